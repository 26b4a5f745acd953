"""The replay's lift test (``Replay._lift_check``, ``lift_acceleration``): after burnout, an upward acceleration
normal to the velocity that gravity and drag cannot give flags a manoeuvre (2025-01-06: the glider's pull-up at
20 km, which the impact-time slip test never saw after burnout, so its range came out 17% short). Fed the
simulator's true states once a second with a tracker-like covariance; no tracker is run."""

from __future__ import annotations

import numpy as np
import pytest

from warnlink.assessment.replay import LIFT_WINDOW_S, Replay, _Obj, lift_acceleration
from warnlink.geo import ecef2geodetic
from warnlink.physics import CLASSES, fly

P_TRACK = np.diag([150.0**2] * 3 + [4.0**2] * 3)
"""A coasting track's covariance (NOTIONAL: 150 m and 4 m/s per axis)."""


def _flag(variant: str) -> tuple[_Obj, object]:
    """Run the lift check along a whole MRBM flight of ``variant``, the boost as lower bounds (not eligible)."""
    f = fly(CLASSES["MRBM-liquid"], 39.0, 125.8, 80.0, 14.0, variant=variant, separate_stages=False)
    ts = np.arange(1.0, f.warhead.t_end, 1.0)
    p, v, _ = f.warhead.sample(ts)
    beta = f.missile.payload_kg / f.missile.rv_cda_m2
    r = Replay.__new__(Replay)
    o = _Obj(row=0, born_s=0.0)
    r.objs = [o]
    for k, t in enumerate(ts):
        x = np.hstack([p[k], v[k]])[None]
        r._lift_check(np.array([0]), x, P_TRACK[None], np.array([t]), np.array([beta]),
                      np.array([t > f.burnout_time_s and not o.manoeuvre]), t)
    return o, f


@pytest.mark.parametrize("variant", ["glide", "ballistic"])
def test_lift_is_flagged_after_burnout_on_a_glider_only(variant):
    o, f = _flag(variant)
    if variant == "ballistic":
        assert not o.manoeuvre   # drag acts along the velocity: no lift down to the ground
        return
    assert o.manoeuvre and o.manoeuvre_s > f.burnout_time_s + LIFT_WINDOW_S
    p, _, _ = f.warhead.sample([o.manoeuvre_s])
    alt_km = float(ecef2geodetic(*p[0])[2]) / 1e3
    print("glider flagged at", o.manoeuvre_s, "s,", round(alt_km, 1), "km; burnout", f.burnout_time_s, "impact",
          f.warhead.t_end)
    assert alt_km < 100.0 and o.manoeuvre_s < f.warhead.t_end - 60.0   # in time to widen the prediction


def test_lift_acceleration_rejects_a_backward_window():
    x = np.array([[6.4e6, 0.0, 0.0, 0.0, 3000.0, 0.0]])
    with pytest.raises(ValueError, match="t1 > t0"):
        lift_acceleration(x, P_TRACK[None], [10.0], x, P_TRACK[None], [10.0])
