"""The backward boost from a state *in* boost (``estimate_launch`` without ``burnout_time_s``): the launch point,
time and class of every notional class's flight, and the calibration of the launch uncertainty."""

import numpy as np
import pytest

from warnlink.assessment.launch import estimate_launch
from warnlink.geo import enu_basis, geodetic2ecef
from warnlink.geo.geodesic import distance_m
from warnlink.physics.flight import fly
from warnlink.physics.missiles import CLASSES, get_class

SITE = (39.17, 127.45)  # the Wonsan area
KICK = {"SRBM-solid": 20.0, "MRBM-liquid": 10.0, "IRBM-liquid": 10.0, "ICBM-liquid": 5.0, "ICBM-solid": 8.0}
"""Pitch-over kicks [deg] giving each class a plausible flight from SITE along azimuth 80 deg."""
P_TIGHT = np.diag([1.0] * 3 + [0.1] * 3)


def _flight(name):
    return fly(get_class(name), *SITE, 80.0, KICK[name])


def _state(f, t):
    p, v, ok = f.warhead.sample(np.array([t]))
    assert ok[0]
    return np.r_[p[0], v[0]]


def test_every_class_is_covered():
    assert set(KICK) == set(CLASSES)


@pytest.mark.parametrize("name", sorted(KICK))
@pytest.mark.parametrize("frac", [0.6, 1.0])
def test_a_boosting_state_gives_the_launch_and_the_class(name, frac):
    """Noise-free, at 60% of the time to burnout or at burnout: the launch within 0.5 km and 0.5 s, and
    over every class (``missile_class=None``) the right class is chosen. Before the near-rest term of the cost
    (``launch.SLOW_M_S``) the notional IRBM's state at 60% (109 s, in its first stage) gave a launch 69.5 s
    early."""
    f = _flight(name)
    mc = get_class(name)
    t = frac * f.burnout_time_s
    x = _state(f, t)
    for cands in (mc, None):
        le = estimate_launch(x, P_TIGHT, t, missile_class=cands)
        assert float(distance_m(le.lat_deg, le.lon_deg, *SITE)) < 500.0, (cands, le)
        assert abs(le.time_s) < 0.5, (cands, le.time_s)
        assert le.missile_class == name
        assert le.tau_s == pytest.approx(t, abs=0.5)


@pytest.mark.parametrize("name,frac", [("SRBM-solid", 0.7), ("IRBM-liquid", 0.6)])
def test_the_launch_uncertainty_is_not_overconfident(name, frac):
    """40 tracked states drawn from N(truth, P) (300 m, 30 m/s per axis), each solved with P: the true launch
    site lies inside the 95% ellipse and the true launch time within 1.96 sigma in at least 90% of draws, and
    every draw is solved. (Against the simulator's own flights the notional model-error floors make the
    uncertainty conservative: mean squared Mahalanobis distance 0.15-0.75 against 2 when measured.)"""
    f = _flight(name)
    t = frac * f.burnout_time_s
    x = _state(f, t)
    P = np.diag([300.0**2] * 3 + [30.0**2] * 3)
    g = np.array(geodetic2ecef(*SITE, 0.0, deg=True))
    e, n, _ = enu_basis(*SITE, deg=True)
    rng = np.random.default_rng(7)
    inside, timely = [], []
    for _ in range(40):
        le = estimate_launch(x + rng.normal(size=6) * np.sqrt(np.diag(P)), P, t, missile_class=name)
        d = g - np.array(geodetic2ecef(le.lat_deg, le.lon_deg, 0.0, deg=True))
        en = np.array([d @ e, d @ n])
        inside.append(en @ np.linalg.solve(le.cov_en_m2, en) < 5.991)  # chi-square 2 dof, 95%
        timely.append(abs(le.time_s) < 1.96 * le.time_sigma_s)  # the flight lifts off at t = 0
    assert np.mean(inside) >= 0.9 and np.mean(timely) >= 0.9, (np.mean(inside), np.mean(timely))
