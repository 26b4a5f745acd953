"""The multi-target tracker: gating, global nearest neighbour assignment, two-point initiation,
M-of-N confirmation and deletion, over batches of columnar sensor reports.

Tracks live in arrays (state, covariance, times, counters); a scan (the reports one sensor made at one
time) is processed in a handful of vectorised steps: predict every live track to the scan time
(backwards for out-of-sequence reports, which are used, not dropped), form the (tracks x reports)
matrix of Mahalanobis distances, gate it at ``gate_chi2``, solve the 2-D assignment
(``scipy.optimize.linear_sum_assignment``), update the assigned tracks with the EKF
(``warnlink.tracking.kalman``), and pair leftover radar reports with the previous scan's leftovers of
the same sensor into new tentative tracks. Infrared (line-of-sight) reports update existing tracks
only: two angles cannot start a track.

Process noise depends on the flight phase the track is estimated to be in (``phase``): boost
(ascending below ``boost_alt_m``), midcourse, terminal (descending below ``terminal_alt_m``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

from warnlink.geo import ecef2geodetic
from warnlink.sensors.reports import KIND_IR, KIND_RADAR, ReportBatch
from warnlink.tracking.kalman import predict, update
from warnlink.tracking.measurement import (
    innovation,
    measurement_dims,
    measurement_h,
    measurement_jacobian,
    radar_cov_to_ecef,
    radar_to_ecef,
)

PHASES = ("boost", "midcourse", "terminal")
TENTATIVE, CONFIRMED, DELETED = 0, 1, 2


@dataclass(frozen=True)
class TrackerConfig:
    """Tuning of the tracker (SI units). Process-noise densities are white-acceleration ``q`` [m^2/s^3]."""

    q_boost: float = 2.0e3
    """Covers unmodelled thrust (tens of m/s^2 changing over seconds)."""
    q_midcourse: float = 1.0e-2
    q_terminal: float = 5.0e2
    """Covers unmodelled drag and manoeuvres in the atmosphere."""
    boost_alt_m: float = 120_000.0
    terminal_alt_m: float = 80_000.0
    gate_probability: float = 0.9999
    init_max_speed_m_s: float = 8_000.0
    init_min_speed_m_s: float = 100.0
    init_max_gap_s: float = 12.0
    init_vel_sigma_m_s: float = 300.0
    """Added velocity uncertainty of a two-point track (acceleration over the gap)."""
    confirm_hits: int = 3
    tentative_timeout_s: float = 15.0
    delete_after_s: float = 40.0
    """A confirmed track with no update for this long is deleted."""


@dataclass
class TrackHistory:
    """Every track estimate the tracker produced, as columns (one row per track update)."""

    t_s: list = field(default_factory=list)
    track: list = field(default_factory=list)
    x: list = field(default_factory=list)
    P: list = field(default_factory=list)
    status: list = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """The history as arrays: ``t_s`` (k,), ``track`` (k,), ``x`` (k, 6), ``P`` (k, 6, 6), ``status``."""
        if not self.t_s:
            return {"t_s": np.zeros(0), "track": np.zeros(0, int), "x": np.zeros((0, 6)), "P": np.zeros((0, 6, 6)),
                    "status": np.zeros(0, int)}
        return {"t_s": np.concatenate(self.t_s), "track": np.concatenate(self.track), "x": np.concatenate(self.x),
                "P": np.concatenate(self.P), "status": np.concatenate(self.status)}


class Tracker:
    """Multi-target tracker over report batches. Push batches as they arrive (``push``) or replay a
    recorded stream (``run``); read the live tracks (``tracks``) and the history (``history``)."""

    def __init__(self, config: TrackerConfig | None = None):
        self.cfg = config or TrackerConfig()
        self.x = np.zeros((0, 6))
        self.P = np.zeros((0, 6, 6))
        self.t = np.zeros(0)
        self.t_update = np.zeros(0)
        self.t_born = np.zeros(0)
        self.hits = np.zeros(0, int)
        self.status = np.zeros(0, int)
        self.ids = np.zeros(0, int)
        self._next_id = 0
        self._leftovers: dict[int, tuple[float, np.ndarray, np.ndarray]] = {}
        self.history = TrackHistory()
        self.rejected = 0
        self._gate = {m: chi2.ppf(self.cfg.gate_probability, m) for m in (2, 3, 4)}

    # ------------------------------------------------------------------ public
    def run(self, reports: ReportBatch) -> TrackHistory:
        """Replay a recorded stream (in arrival order) and return the history."""
        self.push(reports)
        return self.history

    def push(self, reports: ReportBatch) -> None:
        """Process a batch of reports in the order given (the order of arrival), scan by scan."""
        if len(reports) == 0:
            return
        ok = self._valid(reports)
        self.rejected += int((~ok).sum())
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return
        sensor, t = reports.sensor[idx], reports.t_s[idx]
        breaks = np.flatnonzero((np.diff(sensor) != 0) | (np.diff(t) != 0)) + 1
        for part in np.split(idx, breaks):
            self._scan(reports, part)

    def live(self) -> np.ndarray:
        """Indices of tracks not deleted."""
        return np.flatnonzero(self.status != DELETED)

    def phase(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Flight phase index into ``PHASES`` of tracks ``rows`` (default: all)."""
        x = self.x if rows is None else self.x[rows]
        return _phase(x, self.cfg)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _valid(r: ReportBatch) -> np.ndarray:
        """Reports a tracker can use: finite time, known kind, finite used measurement rows and noise."""
        dims = measurement_dims(r.kind, r.z)
        zok = np.all(np.isfinite(np.where(dims, r.z, 0.0)), axis=1)
        var = np.diagonal(r.cov, axis1=1, axis2=2)
        rok = np.all(np.where(dims, np.isfinite(var) & (var > 0), True), axis=1) & dims.any(axis=1)
        pos_ok = np.all(np.isfinite(r.sensor_pos_ecef_m), axis=1)
        range_ok = np.where(r.kind == KIND_RADAR, r.z[:, 0] > 0, True)
        return np.isfinite(r.t_s) & zok & rok & pos_ok & range_ok

    def _q(self, rows):
        ph = _phase(self.x[rows], self.cfg)
        return np.array([self.cfg.q_boost, self.cfg.q_midcourse, self.cfg.q_terminal])[ph]

    def _scan(self, r: ReportBatch, idx: np.ndarray) -> None:
        t_scan = float(r.t_s[idx[0]])
        sensor = int(r.sensor[idx[0]])
        self._expire(t_scan)
        dims = measurement_dims(r.kind[idx], r.z[idx])
        used = dims.all(axis=0)  # rows every report of the scan measures (range-rate only if all have it)
        m = int(used.sum())
        z = r.z[idx][:, used]
        R = r.cov[idx][:, used][:, :, used]
        kind = int(r.kind[idx[0]])
        site = r.sensor_pos_ecef_m[idx[0]]
        live = self.live()
        assigned_reports = np.zeros(len(idx), bool)
        if len(live):
            xp, Pp = predict(self.x[live], self.P[live], t_scan - self.t[live], self._q(live))
            zhat = measurement_h(xp, np.broadcast_to(site, (len(live), 3)), kind)[:, used]
            H = measurement_jacobian(xp, np.broadcast_to(site, (len(live), 3)), kind)[:, used]
            HPHt = H @ Pp @ np.swapaxes(H, -1, -2)
            S = HPHt[:, None] + R[None]  # (N, M, m, m)
            nu = innovation(np.repeat(z[None], len(live), 0).reshape(-1, m),
                            np.repeat(zhat, len(idx), 0), kind).reshape(len(live), len(idx), m)
            d2 = np.einsum("nki,nki->nk", nu, np.linalg.solve(S, nu[..., None])[..., 0])
            gated = d2 <= self._gate[m]
            if gated.any():
                cost = np.where(gated, d2 + np.log(np.linalg.det(S)), 1e12)
                rows, cols = linear_sum_assignment(cost)
                keep = gated[rows, cols]
                rows, cols = rows[keep], cols[keep]
                if len(rows):
                    xn, Pn, _, _ = update(xp[rows], Pp[rows], nu[rows, cols], H[rows], R[cols])
                    tr = live[rows]
                    self.x[tr], self.P[tr], self.t[tr] = xn, Pn, t_scan
                    self.t_update[tr] = np.maximum(self.t_update[tr], t_scan)
                    self.hits[tr] += 1
                    promote = (self.status[tr] == TENTATIVE) & (self.hits[tr] >= self.cfg.confirm_hits)
                    self.status[tr[promote]] = CONFIRMED
                    assigned_reports[cols] = True
                    self._record(tr, t_scan)
        if kind == KIND_RADAR:
            self._initiate(sensor, t_scan, z[~assigned_reports], R[~assigned_reports], site)

    def _initiate(self, sensor, t_scan, z, R, site):
        pos = radar_to_ecef(z[:, :3], site) if len(z) else np.zeros((0, 3))
        cov = radar_cov_to_ecef(z[:, :3], R[:, :3, :3], site) if len(z) else np.zeros((0, 3, 3))
        prev = self._leftovers.get(sensor)
        self._leftovers[sensor] = (t_scan, pos, cov)
        if prev is None or not len(pos):
            return
        t0, pos0, cov0 = prev
        dt = t_scan - t0
        if not (0 < dt <= self.cfg.init_max_gap_s) or not len(pos0):
            return
        dist = np.linalg.norm(pos[:, None] - pos0[None], axis=2)
        speed = dist / dt
        ok = (speed <= self.cfg.init_max_speed_m_s) & (speed >= self.cfg.init_min_speed_m_s)
        if not ok.any():
            return
        rows, cols = linear_sum_assignment(np.where(ok, dist, 1e12))
        keep = ok[rows, cols]
        rows, cols = rows[keep], cols[keep]
        n = len(rows)
        x = np.hstack([pos[rows], (pos[rows] - pos0[cols]) / dt])
        P = np.zeros((n, 6, 6))
        P[:, :3, :3] = cov[rows]
        P[:, :3, 3:] = cov[rows] / dt
        P[:, 3:, :3] = cov[rows] / dt
        P[:, 3:, 3:] = (cov[rows] + cov0[cols]) / dt**2 + self.cfg.init_vel_sigma_m_s**2 * np.eye(3)
        self._add(x, P, t_scan)
        # the used leftovers cannot start another track
        left = np.ones(len(pos), bool)
        left[rows] = False
        self._leftovers[sensor] = (t_scan, pos[left], cov[left])

    def _add(self, x, P, t):
        n = len(x)
        self.x = np.vstack([self.x, x])
        self.P = np.concatenate([self.P, P])
        self.t = np.append(self.t, np.full(n, t))
        self.t_update = np.append(self.t_update, np.full(n, t))
        self.t_born = np.append(self.t_born, np.full(n, t))
        self.hits = np.append(self.hits, np.full(n, 2))
        self.status = np.append(self.status, np.full(n, TENTATIVE))
        self.ids = np.append(self.ids, np.arange(self._next_id, self._next_id + n))
        self._next_id += n
        self._record(np.arange(len(self.x) - n, len(self.x)), t)

    def _expire(self, t_now):
        tent = (self.status == TENTATIVE) & (t_now - self.t_born > self.cfg.tentative_timeout_s)
        stale = (self.status == CONFIRMED) & (t_now - self.t_update > self.cfg.delete_after_s)
        self.status[tent | stale] = DELETED

    def _record(self, rows, t):
        h = self.history
        h.t_s.append(np.full(len(rows), t))
        h.track.append(self.ids[rows].copy())
        h.x.append(self.x[rows].copy())
        h.P.append(self.P[rows].copy())
        h.status.append(self.status[rows].copy())


def _phase(x, cfg: TrackerConfig) -> np.ndarray:
    """Flight phase of states ``x`` (N, 6): 0 boost, 1 midcourse, 2 terminal (from height and climb)."""
    if len(x) == 0:
        return np.zeros(0, int)
    lat, lon, alt = ecef2geodetic(x[:, 0], x[:, 1], x[:, 2])
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
    climb = np.einsum("ij,ij->i", x[:, 3:6], up)
    out = np.ones(len(x), int)
    out[(alt < cfg.boost_alt_m) & (climb > 0)] = 0
    out[(alt < cfg.terminal_alt_m) & (climb <= 0)] = 2
    return out


__all__ = ["CONFIRMED", "DELETED", "KIND_IR", "PHASES", "TENTATIVE", "Tracker", "TrackerConfig"]
