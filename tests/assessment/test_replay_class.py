"""The replay's class comes from the object's whole flight (``figures.flight_class``), not from the state its
estimate was last read from: 2017-11-29's main object was a terminal track whose drag-slowed state had the
energy of a 3 840 km flight (IRBM) while the flight went 4 368 km up for 1 002 km (ICBM). A bare replay object
with a stand-in tracker table: no simulation is run."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np

from warnlink.assessment.replay import Replay, _Obj
from warnlink.geo import direct
from warnlink.tracking.tracker import CONFIRMED


def _estimate(apogee_m: float, last_state_range_km: float, coast: list, manoeuvre: bool = False) -> dict:
    lat, lon = direct(39.03, 125.75, 80.0, 1_001_600.0)
    o = _Obj(row=0, born_s=60.0, max_alt_m=apogee_m, manoeuvre=manoeuvre)
    for t, e in coast:
        o.coast_e_km, o.e_t_s, o.e_km = e, [*o.e_t_s, t], [*o.e_km, e]
    o.launch = {"lat_deg": 39.03, "lon_deg": 125.75, "time_s": 0.0, "method": "backward boost (ICBM-liquid)"}
    o.pred = {"ok": True, "t": 3100.0, "lat": float(lat), "lon": float(lon), "cov": np.eye(2) * 1e6,
              "impact_t": 3160.0, "impact_t_sigma": 1.0, "semi_major_m": 2e3, "semi_minor_m": 1e3,
              "orientation_deg": 0.0, "probs": {}, "p_japan": 1.0, "over_p": {}, "over_t": {},
              "apogee_m": apogee_m, "max_range_km": last_state_range_km, "bound": False}
    r = Replay.__new__(Replay)
    r.sim = SimpleNamespace(epoch=datetime(2017, 11, 28, 18, 0, tzinfo=UTC), duration_s=4000.0)
    r.launch_s, r.objs = 0.0, [o]
    r.tracker = SimpleNamespace(status=np.array([CONFIRMED]))
    return r._estimate(o)


def test_class_of_a_lofted_icbm_read_late_in_its_fall():
    est = _estimate(4_368_200.0, 3840.0, [])
    assert est["class"] == "ICBM" and est["class_basis"] == "apogee and range" and est["shape"] == "lofted"
    assert 9_000.0 < est["max_range_km"] < 10_500.0


def test_class_of_a_flight_in_the_air_is_its_highest_coasting_energy():
    # a depressed 50 km SRBM (or a manoeuvring one): no apogee/range figure; the highest coasting energy stands,
    # not the last, drag-slowed state
    est = _estimate(50_000.0, 12.0, [(60.0, 1_240.0), (90.0, 1_250.0)])
    assert est["class"] == "MRBM" and est["class_basis"] == "highest coasting energy"
    assert _estimate(400_000.0, 12.0, [(60.0, 1_250.0)], manoeuvre=True)["class"] == "MRBM"
