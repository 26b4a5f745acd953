"""Geographic regions for threat assessment: land territory, EEZs, overflights, place descriptions.

Data (packaged, built offline by ``tools/build_regions.py``; sources and licence in
``data/REGIONS.md``):

- **Land**: Natural Earth 1:10m admin-0 countries (public domain), every country of the world.
  A point's land code is the ISO 3166-1 alpha-3 code of the Natural Earth unit it falls in
  (dependencies keep their own codes, e.g. GUM, MNP; "" for sea). Disputed islands follow Natural
  Earth's de-facto assignment (e.g. the southern Kurils are RUS, Dokdo/Takeshima is KOR).
- **EEZ** (Japan and the ROK only, ``EEZ_NATIONS``): an *approximation*, not the legal limits:
  the sea within 200 nautical miles (370.4 km, geodesic on WGS-84) of the nation's coast and
  nearer to that coast than to any other state's coast (an equidistance/median-line rule). Coasts
  are Natural Earth's coastline sampled every <= 1 km, plus islands that are too small for the
  1:10m data but matter for these EEZs (e.g. Okinotorishima, Hegurajima; the gazetteer rows marked
  ``add_to_coast``). The EEZ here includes the territorial sea and internal waters. Known
  differences from the real, partly undelimited and disputed boundaries are listed in REGIONS.md.
- **Gazetteer**: ~90 islands, capes, peninsulas and cities with public coordinates, for
  Ministry-of-Defense-style descriptions ("about 200 km W of Oshima-Oshima (Hokkaido)").

Distances: the nearest coast point is found by straight-line (chord) distance in ECEF, which is
monotone in the great-circle distance and shorter than the geodesic by 1.4e-4 relative at 370 km
(52 m); the 200 nm test itself is decided with the exact geodesic (pyproj/Karney) wherever the
chord leaves any doubt. Coast sampling adds at most s^2/(8 d) to a distance d (0.3 m at 370 km
for s = 1 km), far below the generalisation of a 1:10m coastline (hundreds of metres).

Angles are degrees and distances metres at this module's interface (it sits at the edge: alerts,
summaries), except where a name says ``_km``. All point functions are vectorised.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np
import shapely
from scipy.spatial import cKDTree

from warnlink.geo.frames import geodetic2ecef
from warnlink.geo.geodesic import distance_m, inverse

NM_M = 1852.0
"""One international nautical mile [m]."""
EEZ_LIMIT_M = 200 * NM_M
"""Outer limit of an exclusive economic zone: 200 nautical miles = 370.4 km (UNCLOS art. 57)."""
EEZ_NATIONS = ("JPN", "KOR")
"""Nations whose EEZ is modelled (the packaged coast covers the band that decides them)."""
NEIGHBOUR_LAND = ("PRK", "CHN", "RUS")
"""The neighbours whose land has a probability of its own (``<code>_land``); the rest is ``other_land``."""
PROBABILITY_KEYS = ("JPN_land", "JPN_eez", "KOR_land", "KOR_eez", "PRK_land", "CHN_land", "RUS_land", "other_land",
                    "sea_other")
"""Keys of ``impact_probabilities``; they partition the Earth's surface."""

_CHORD_SURE = EEZ_LIMIT_M * (1.0 - 1e-3)
"""Below this chord the geodesic is surely inside 200 nm (geodesic/chord - 1 < 2e-4 at these ranges)."""
_TRACK_STEP_M = 1000.0
"""Ground tracks are resampled to this spacing before the land test (``overflights``)."""
_COMPASS = {
    8: ("N", "NE", "E", "SE", "S", "SW", "W", "NW"),
    16: ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"),
}


def _data_path(name: str) -> Path:
    return Path(str(resources.files("warnlink") / "data" / name))


@dataclass(frozen=True)
class Place:
    """One gazetteer entry: a named island, cape, peninsula or city."""

    name: str
    nation: str
    kind: str
    region: str
    lat_deg: float
    lon_deg: float
    add_to_coast: bool
    source: str

    @property
    def label(self) -> str:
        """Name with its prefecture/province, as used in statements: "Okushiri Island (Hokkaido)"."""
        return self.name if self.region in ("", self.name) else f"{self.name} ({self.region})"


class Overflight(NamedTuple):
    """One passage of the ground track over a nation's land territory."""

    nation: str
    """ISO 3166-1 alpha-3 code of the land overflown."""
    t_enter_s: float
    """Time the sub-vehicle point crosses onto the land [s, same scale as the input times]."""
    t_exit_s: float
    """Time it leaves the land [s]."""
    region: str
    """Prefecture/province of the nearest gazetteer place of that nation (else the country's name)."""
    place: str
    """Nearest gazetteer place of that nation to the middle of the passage ("" if none within 300 km)."""


class LocationDescription(NamedTuple):
    """A point described from a named reference place, Ministry-of-Defense style."""

    text: str
    """E.g. "about 200 km W of Oshima-Oshima (Hokkaido)"."""
    place: str
    """Reference place name."""
    region: str
    """Its prefecture/province."""
    nation: str
    """Its nation (ISO 3166-1 alpha-3)."""
    distance_km: float
    """Geodesic distance from the place to the point [km], unrounded."""
    bearing_deg: float
    """Azimuth of the point seen from the place [deg from north, clockwise]."""
    compass: str
    """``bearing_deg`` as a compass point (8 or 16 points)."""


class _Regions:
    """The packaged data, decoded once (``_regions()``)."""

    def __init__(self, path: Path):
        z = np.load(path)
        self.codes = z["country_codes"].astype(str)
        self.names = z["country_names"].astype(str)
        coords = np.cumsum(z["land_coords_dmicro"].astype(np.int64), axis=0) / 1e6
        polys = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, coords, (z["land_ring_offsets"], z["land_poly_offsets"]))
        shapely.prepare(polys)
        self.polys = polys
        self.poly_code = self.codes[z["land_poly_country"]]
        self.tree = shapely.STRtree(polys)
        ll = np.cumsum(z["coast_lonlat_dmicro"].astype(np.int64), axis=0) / 1e6
        self.coast_lon, self.coast_lat = ll[:, 0], ll[:, 1]
        self.coast_code = z["coast_codes"].astype(str)[z["coast_owner"]]
        self.coast_xyz = np.column_stack(geodetic2ecef(self.coast_lat, self.coast_lon, 0.0, deg=True))
        self.coast_tree = cKDTree(self.coast_xyz)
        self.eez_nations = tuple(z["eez_nations"].astype(str))
        self.source = str(z["source"])
        self.grid = z["grid"]
        self.grid_lat0, self.grid_lon0, self.grid_step = (float(v) for v in z["grid_origin_step_deg"])
        # Class -> (land code, EEZ code); class 0 ("mixed") is computed exactly.
        n_cls = 100 + len(self.codes)
        self.cls_land = np.full(n_cls, "", dtype="<U3")
        self.cls_eez = np.full(n_cls, "", dtype="<U3")
        self.cls_land[100:] = self.codes
        for e, nation in enumerate(self.eez_nations):
            self.cls_eez[2 + e] = nation

    def grid_class(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Lookup-grid class per point (0 where the grid does not decide: mixed cell or outside it)."""
        ny, nx = self.grid.shape
        i = np.floor((lat - self.grid_lat0) / self.grid_step).astype(np.int64)
        j = np.floor((lon - self.grid_lon0) / self.grid_step).astype(np.int64)
        inside = (i >= 0) & (i < ny) & (j >= 0) & (j < nx)
        out = np.zeros(lat.shape, np.uint16)
        out[inside] = self.grid[i[inside], j[inside]]
        return out

    def in_grid(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """True inside the grid window (which holds every point within 200 nm of an EEZ nation's coast)."""
        ny, nx = self.grid.shape
        return ((lat >= self.grid_lat0) & (lat < self.grid_lat0 + ny * self.grid_step)
                & (lon >= self.grid_lon0) & (lon < self.grid_lon0 + nx * self.grid_step))


@functools.cache
def _regions() -> _Regions:
    return _Regions(_data_path("regions.npz"))


@functools.cache
def gazetteer() -> tuple[Place, ...]:
    """The packaged gazetteer (``data/gazetteer.csv``) as ``Place`` records."""
    with open(_data_path("gazetteer.csv"), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return tuple(Place(r["name"], r["nation"], r["kind"], r["region"], float(r["lat_deg"]), float(r["lon_deg"]),
                       r["add_to_coast"] == "yes", r["source"]) for r in rows)


def country_name(code: str) -> str:
    """Natural Earth's name for an ISO 3166-1 alpha-3 land code ("JPN" -> "Japan")."""
    reg = _regions()
    hit = np.flatnonzero(reg.codes == code)
    if hit.size == 0:
        raise KeyError(f"unknown land code {code!r}")
    return str(reg.names[hit[0]])


def _points(lat_deg, lon_deg, what: str = "point") -> tuple[np.ndarray, np.ndarray]:
    """Validated float arrays of one shape; longitude wrapped to [-180, 180)."""
    lat = np.asarray(lat_deg, dtype=float)
    lon = np.asarray(lon_deg, dtype=float)
    try:
        lat, lon = np.broadcast_arrays(lat, lon)
    except ValueError:
        raise ValueError(f"{what} latitudes {lat.shape} and longitudes {lon.shape} do not broadcast") from None
    if not (np.all(np.isfinite(lat)) and np.all(np.isfinite(lon))):
        raise ValueError(f"{what} coordinates must be finite (got NaN or inf)")
    if np.any(np.abs(lat) > 90.0):
        raise ValueError(f"{what} latitude outside [-90, 90] deg: {lat[np.abs(lat) > 90.0].ravel()[:3]}")
    return lat, (lon + 180.0) % 360.0 - 180.0


def land_of(lat_deg, lon_deg, *, use_grid: bool = True) -> np.ndarray:
    """Land code per point: ISO 3166-1 alpha-3 of the Natural Earth country it is on, "" at sea.

    Points exactly on a coastline count as land. Vectorised; returns an array of the input's shape.
    Same answers as ``region_of(...)[0]`` without the EEZ test (cheaper: no nearest-coast search).
    """
    lat, lon = _points(lat_deg, lon_deg)
    flat_lat, flat_lon = lat.ravel(), lon.ravel()
    reg = _regions()
    cls = reg.grid_class(flat_lat, flat_lon) if use_grid else np.zeros(flat_lat.shape, np.uint16)
    land = reg.cls_land[cls]
    todo = np.flatnonzero(cls == 0)
    if todo.size:
        land[todo] = _land(flat_lat[todo], flat_lon[todo])
    return land.reshape(lat.shape)


def _land(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Exact land test (1-D arrays, longitudes already wrapped): polygons whose bounding box holds the
    point, then a prepared point-in-polygon test per polygon."""
    reg = _regions()
    out = np.full(lat.shape, "", dtype="<U3")
    if lat.size == 0:
        return out
    pi, gi = reg.tree.query(shapely.points(lon, lat))
    if pi.size == 0:
        return out
    order = np.argsort(gi, kind="stable")
    pi, gi = pi[order], gi[order]
    hit = np.zeros(pi.size, bool)
    groups, starts = np.unique(gi, return_index=True)
    for g, s, e in zip(groups, starts, np.append(starts[1:], gi.size), strict=True):
        p = pi[s:e]
        hit[s:e] = shapely.intersects_xy(reg.polys[g], lon[p], lat[p])
    out[pi[hit]] = reg.poly_code[gi[hit]]
    return out


def nearest_coast(lat_deg, lon_deg, max_distance_m: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Owner and geodesic distance [m] of the nearest packaged coast point, per point.

    The packaged coast covers the band that decides the Japanese and Korean EEZs (Japan's, the ROK's
    and their neighbours' coasts within 2 x 200 nm + 30 km of them); elsewhere the answer is the
    nearest point of that band, not of the world. Points farther than ``max_distance_m`` (chord) get
    "" and ``inf``.
    """
    lat, lon = _points(lat_deg, lon_deg)
    code, dist = _nearest_coast(lat.ravel(), lon.ravel(), max_distance_m, exact=True)
    return code.reshape(lat.shape), dist.reshape(lat.shape)


def _nearest_coast(lat, lon, max_chord_m: float, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """Nearest coast point by chord; with ``exact``, every finite distance is the geodesic one,
    otherwise only those where the chord cannot settle the 200 nm question."""
    reg = _regions()
    xyz = np.column_stack(geodetic2ecef(lat, lon, 0.0, deg=True))
    chord, idx = reg.coast_tree.query(xyz, distance_upper_bound=max_chord_m)
    found = np.isfinite(chord)
    code = np.full(lat.shape, "", dtype="<U3")
    code[found] = reg.coast_code[idx[found]]
    dist = np.where(found, chord, np.inf)
    refine = found if exact else found & (chord > _CHORD_SURE)
    if np.any(refine):
        j = idx[refine]
        dist[refine] = distance_m(lat[refine], lon[refine], reg.coast_lat[j], reg.coast_lon[j])
    return code, dist


def region_of(lat_deg, lon_deg, *, use_grid: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Land code and EEZ code per point: ``(land, eez)``, string arrays of the input's shape.

    ``land`` is the ISO 3166-1 alpha-3 code of the country the point is on ("" at sea). ``eez`` is
    "JPN" or "KOR" for a sea point in that nation's (approximated) EEZ, "" otherwise (on land, in
    another state's waters, or on the high seas). See the module notes for the approximation.

    Most points are answered from a packaged lookup grid whose cells are classified conservatively
    (a cell is decided only when every point in it has the same answer); the rest take the exact
    path (point in polygon, nearest coast point, geodesic 200 nm test). ``use_grid=False`` forces
    the exact path everywhere (same answers, slower).
    """
    lat, lon = _points(lat_deg, lon_deg)
    flat_lat, flat_lon = lat.ravel(), lon.ravel()
    reg = _regions()
    cls = reg.grid_class(flat_lat, flat_lon) if use_grid else np.zeros(flat_lat.shape, np.uint16)
    land = reg.cls_land[cls]
    eez = reg.cls_eez[cls]
    todo = np.flatnonzero(cls == 0)
    if todo.size:
        land[todo] = _land(flat_lat[todo], flat_lon[todo])
        sea = todo[(land[todo] == "") & reg.in_grid(flat_lat[todo], flat_lon[todo])]
        if sea.size:
            code, dist = _nearest_coast(flat_lat[sea], flat_lon[sea], EEZ_LIMIT_M, exact=False)
            ok = np.isin(code, reg.eez_nations) & (dist <= EEZ_LIMIT_M)
            eez[sea[ok]] = code[ok]
    return land.reshape(lat.shape), eez.reshape(lat.shape)


def impact_probabilities(lat_deg, lon_deg, weights=None) -> dict[str, float]:
    """Probability of impact in each region, from samples of the impact point (e.g. Monte Carlo or
    sigma points of the predicted impact distribution).

    Returns a dict with the keys ``PROBABILITY_KEYS``: ``JPN_land``, ``JPN_eez``, ``KOR_land``,
    ``KOR_eez``, ``PRK_land``, ``CHN_land``, ``RUS_land`` (the neighbours, ``NEIGHBOUR_LAND``), ``other_land``
    (any other country's land) and ``sea_other`` (sea
    outside the Japanese and Korean EEZs); the values sum to 1. ``weights`` (non-negative, one per
    sample, not all zero) default to equal weights.
    """
    lat, lon = _points(lat_deg, lon_deg, "impact sample")
    lat, lon = lat.ravel(), lon.ravel()
    if lat.size == 0:
        raise ValueError("impact_probabilities needs at least one impact sample")
    if weights is None:
        w = np.full(lat.size, 1.0 / lat.size)
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape != lat.shape:
            raise ValueError(f"weights has {w.size} values for {lat.size} impact samples")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite and non-negative")
        total = w.sum()
        if total <= 0:
            raise ValueError("weights sum to zero")
        w = w / total
    land, eez = region_of(lat, lon)
    out = {}
    for nation in ("JPN", "KOR"):
        out[f"{nation}_land"] = float(w[land == nation].sum())
        out[f"{nation}_eez"] = float(w[eez == nation].sum())
    for code in NEIGHBOUR_LAND:
        out[f"{code}_land"] = float(w[land == code].sum())
    out["other_land"] = float(w[(land != "") & ~np.isin(land, ("JPN", "KOR", *NEIGHBOUR_LAND))].sum())
    out["sea_other"] = float(w[(land == "") & (eez == "")].sum())
    return {k: out[k] for k in PROBABILITY_KEYS}


def _resample_track(lat, lon, t):
    """Insert points so that neighbours are at most ``_TRACK_STEP_M`` apart (linear in lat, unwrapped
    lon and time). Returns lat, lon, t and the index of each output point's original segment."""
    lon_u = np.degrees(np.unwrap(np.radians(lon)))
    seg = distance_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    n = np.maximum(np.ceil(np.atleast_1d(seg) / _TRACK_STEP_M).astype(np.int64), 1)
    k = np.repeat(np.arange(n.size), n)
    frac = (np.arange(k.size) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
    def lerp(a):
        return np.concatenate([a[k] + frac * (a[k + 1] - a[k]), a[-1:]])
    return lerp(lat), lerp(lon_u), lerp(t)


def overflights(lat_deg, lon_deg, t_s, *, ends_at_impact: bool = False) -> list[Overflight]:
    """Passages of a predicted ground track over land territory, with entry and exit times.

    ``lat_deg``, ``lon_deg``: the sub-vehicle (geodetic) points of the track, e.g. from the ECEF
    states of a predicted trajectory; ``t_s``: their times, strictly increasing. Only land counts,
    whatever the altitude: Japan's "overflight" statements mean passing over its land territory
    (in space), not over its EEZ or territorial sea. The track is resampled every 1 km between
    the given points (linear in latitude, longitude and time), and each coastline crossing is
    located by bisection to 1 ms. A track that starts or ends on land enters or exits at its first
    or last time. With ``ends_at_impact`` the track's last point is the impact: a passage that
    reaches it is the descent onto that land (an impact there, not an overflight) and is left out.
    Returns one ``Overflight`` per passage, in time order, for every nation (including the
    launching state).
    """
    lat, lon = _points(lat_deg, lon_deg, "ground track")
    t = np.asarray(t_s, dtype=float)
    if lat.ndim != 1 or t.shape != lat.shape:
        raise ValueError(f"ground track needs 1-D lat, lon and t of one length (got {lat.shape}, {t.shape})")
    if lat.size < 2:
        raise ValueError("ground track needs at least two points")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError("ground track times must be finite and strictly increasing")
    la, lo, tt = _resample_track(lat, lon, t)
    code = _land(la, (lo + 180.0) % 360.0 - 180.0)
    change = np.flatnonzero(code[1:] != code[:-1])
    # Bisection on every change at once: keep (a, b) with code(a) == code[i], code(b) != code[i].
    a = np.zeros(change.size)
    b = np.ones(change.size)
    if change.size:
        dt_max = float(np.max(tt[change + 1] - tt[change]))
        before = code[change]
        for _ in range(max(1, math.ceil(math.log2(max(dt_max, 1e-9) / 1e-3)))):
            m = 0.5 * (a + b)
            ml = la[change] + m * (la[change + 1] - la[change])
            mo = lo[change] + m * (lo[change + 1] - lo[change])
            same = _land(ml, (mo + 180.0) % 360.0 - 180.0) == before
            a = np.where(same, m, a)
            b = np.where(same, b, m)
    t_cross = tt[change] + 0.5 * (a + b) * (tt[change + 1] - tt[change])
    # Runs of one non-empty code between crossings.
    bounds = np.concatenate([[tt[0]], t_cross, [tt[-1]]])
    run_code = np.concatenate([code[:1], code[change + 1]])
    out = []
    places = gazetteer()
    for r, c in enumerate(run_code):
        if c == "" or (ends_at_impact and r == len(run_code) - 1):
            continue
        t0, t1 = float(bounds[r]), float(bounds[r + 1])
        tm = 0.5 * (t0 + t1)
        latm = float(np.interp(tm, tt, la))
        lonm = float((np.interp(tm, tt, lo) + 180.0) % 360.0 - 180.0)
        region, place = _region_name(c, latm, lonm, places)
        out.append(Overflight(str(c), t0, t1, region, place))
    return out


def _region_name(code: str, lat: float, lon: float, places) -> tuple[str, str]:
    own = [p for p in places if p.nation == code]
    if own:
        d = distance_m(np.full(len(own), lat), np.full(len(own), lon), np.array([p.lat_deg for p in own]),
                       np.array([p.lon_deg for p in own]))
        k = int(np.argmin(d))
        if d[k] <= 300e3:
            return own[k].region, own[k].name
    try:
        return country_name(code), ""
    except KeyError:
        return code, ""


def compass_point(bearing_deg: float, points: int = 8) -> str:
    """Compass point ("N", "NE", ... or the 16-point "NNE", ...) nearest to a bearing [deg]."""
    if points not in _COMPASS:
        raise ValueError(f"compass points must be 8 or 16, got {points}")
    names = _COMPASS[points]
    return names[round((bearing_deg % 360.0) / (360.0 / points)) % points]


def describe_location(lat_deg: float, lon_deg: float, *, place: str | None = None, nations=None, kinds=None,
                      compass_points: int = 8, round_km: float = 10.0) -> LocationDescription:
    """A point described from a gazetteer place, Ministry-of-Defense style.

    E.g. ``describe_location(41.49, 136.97).text == "about 200 km W of Oshima-Oshima (Hokkaido)"``.
    The reference is the named ``place`` if given, else the nearest gazetteer place, optionally
    restricted to ``nations`` (e.g. ``("JPN",)``) and ``kinds`` (``island``, ``cape``,
    ``peninsula``, ``city``). The distance in the text is rounded to ``round_km``; the structured
    fields are not rounded. The bearing is the azimuth of the point seen from the place.
    """
    lat, lon = _points(lat_deg, lon_deg)
    if lat.size != 1:
        raise ValueError("describe_location takes one point")
    lat, lon = float(lat.ravel()[0]), float(lon.ravel()[0])
    if not round_km > 0:
        raise ValueError(f"round_km must be positive, got {round_km}")
    if place is not None:
        places = [p for p in gazetteer() if p.name == place]
        if not places:
            raise KeyError(f"no gazetteer place named {place!r}")
    else:
        places = [p for p in gazetteer()
                  if (nations is None or p.nation in nations) and (kinds is None or p.kind in kinds)]
        if not places:
            raise ValueError(f"no gazetteer place matches nations={nations!r}, kinds={kinds!r}")
    n = len(places)
    az, _, d = inverse(np.array([p.lat_deg for p in places]), np.array([p.lon_deg for p in places]),
                       np.full(n, lat), np.full(n, lon))
    k = int(np.argmin(d))
    ref, dist_km, bearing = places[k], float(d[k]) / 1e3, float(az[k]) % 360.0
    compass = compass_point(bearing, compass_points)
    rounded = round(dist_km / round_km) * round_km
    text = f"near {ref.label}" if rounded == 0 else f"about {rounded:,.0f} km {compass} of {ref.label}"
    return LocationDescription(text, ref.name, ref.region, ref.nation, dist_km, bearing, compass)
