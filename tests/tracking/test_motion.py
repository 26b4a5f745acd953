"""Ballistic motion model against the simulator's high-accuracy integrator."""

import numpy as np
import pytest

from warnlink.physics import CLASSES, fly
from warnlink.physics.flight import PhysicsOptions
from warnlink.tracking.motion import propagate, white_acceleration_q


@pytest.fixture(scope="module")
def coast():
    f = fly(CLASSES["ICBM-liquid"], 39.2, 125.67, 80, 1.0, separate_stages=False, opts=PhysicsOptions(drag=False))
    return f.warhead


@pytest.mark.parametrize("dt", [1.0, 10.0, 100.0, 1000.0, -300.0])
def test_propagation_matches_integrator(coast, dt):
    # Same force model (J2, rotating frame); RK4 with 5 s steps must stay within 1 mm of the
    # Dormand-Prince reference (tolerance 1e-10) over 1000 s of midcourse.
    t0 = 1400.0
    p0, v0, _ = coast.sample([t0])
    p1, v1, _ = coast.sample([t0 + dt])
    x, _ = propagate(np.hstack([p0, v0]), dt)
    assert np.linalg.norm(x[0, :3] - p1[0]) < 1e-3
    assert np.linalg.norm(x[0, 3:] - v1[0]) < 1e-5


def test_batch_of_tracks_with_own_dt(coast):
    t = np.array([500.0, 900.0, 1300.0])
    p, v, _ = coast.sample(t)
    dts = np.array([3.0, 40.0, 7.5])
    x, _ = propagate(np.hstack([p, v]), dts)
    pe, _, _ = coast.sample(t + dts)
    assert np.max(np.linalg.norm(x[:, :3] - pe, axis=1)) < 1e-3


def test_state_transition_matrix_matches_finite_differences(coast):
    p, v, _ = coast.sample([800.0])
    x0 = np.hstack([p, v])
    _, phi = propagate(x0, 100.0)
    eps = np.array([1.0, 1.0, 1.0, 1e-3, 1e-3, 1e-3])
    num = np.zeros((6, 6))
    for j in range(6):
        d = np.zeros(6)
        d[j] = eps[j]
        xp, _ = propagate(x0 + d, 100.0, with_stm=False)
        xm, _ = propagate(x0 - d, 100.0, with_stm=False)
        num[:, j] = (xp - xm)[0] / (2 * eps[j])
    # the STM neglects the J2 part of the gravity gradient (about 1e-3 of it): 1% of the matrix norm
    assert np.linalg.norm(num - phi[0]) / np.linalg.norm(num) < 1e-2


def test_process_noise_is_the_white_acceleration_form():
    Q = white_acceleration_q(np.array([2.0]), 3.0)[0]
    assert Q[0, 0] == pytest.approx(3.0 * 8 / 3) and Q[0, 3] == pytest.approx(3.0 * 2) and Q[3, 3] == 6.0
    assert np.allclose(Q, Q.T) and np.all(np.linalg.eigvalsh(Q) >= -1e-12)
