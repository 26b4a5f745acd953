"""Build ``src/warnlink/data/regions.npz`` (land polygons, EEZ coast points, lookup grid) from Natural Earth.

Offline tool; warnlink does not need it at run time. The input is Natural Earth's 1:10m admin-0
countries (public domain) as redistributed in TopoJSON by the npm package ``world-atlas`` 2.0.2
(Natural Earth 4.1.0)::

    cd "$(mktemp -d)" && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz && cd -
    .venv/bin/pip install pycountry      # build-time only: ISO 3166 numeric -> alpha-3
    .venv/bin/python tools/build_regions.py /tmp/tmp.XXXX/package/countries-10m.json

What it writes (details in ``src/warnlink/data/REGIONS.md``):

- every country's land as polygons (made valid with GEOS ``make_valid``: the TopoJSON quantisation
  leaves a few self-intersections), coordinates in micro-degrees, delta-encoded;
- coast points for the EEZ test: the arcs that bound exactly one country (an arc shared by two
  countries is a land border, not a coast), densified to at most ``--spacing-km``, plus the islets
  that the 1:10m quantisation collapses to fewer than four points, plus the gazetteer places
  marked ``add_to_coast`` (islands that matter for Japan's or the ROK's EEZ but are missing at
  1:10m). Only coast within ``2 x 200 nm + margin`` of a Japanese or Korean coast point is kept: a
  sea point within 200 nm of those coasts can only have a nearer foreign coast inside that band;
- a lookup grid over the window that holds the Japanese and Korean EEZs: each cell is classified
  as certainly one country's land, certainly sea outside those EEZs, certainly sea inside one of
  them, or mixed. The classification is conservative (triangle inequality with the cell's radius;
  polygon containment of the whole cell), so the run-time fast path returns exactly what the exact
  computation would; mixed cells and points outside the window take the exact path.

It also prints which gazetteer islands of Japan and the ROK the 1:10m data holds (the table in
REGIONS.md comes from this output).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import shapely
from scipy.spatial import cKDTree

from warnlink.geo import regions
from warnlink.geo.frames import geodetic2ecef

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "src" / "warnlink" / "data"
MICRO = 1e6
"""Stored coordinates are integers in micro-degrees (0.11 m in latitude)."""
GRID_STEP_DEG = 0.05

# Natural Earth units without an ISO 3166 numeric code: user-assigned X.. codes (ISO 3166 reserves XAA-XZZ).
EXTRA_CODES = {
    "Dhekelia": "XDK", "Somaliland": "XSL", "Kosovo": "XKX", "USNB Guantanamo Bay": "XGB", "N. Cyprus": "XNC",
    "Cyprus U.N. Buffer Zone": "XCB", "Siachen Glacier": "XSG", "Baikonur": "XBK", "Akrotiri": "XAK",
    "Indian Ocean Ter.": "XIO", "Coral Sea Is.": "XCS", "Spratly Is.": "XSP", "Clipperton I.": "XCP",
    "Bajo Nuevo Bank": "XBN", "Serranilla Bank": "XSB", "Scarborough Reef": "XSR",
}


def ecef(lat_deg, lon_deg) -> np.ndarray:
    """(n, 3) ECEF [m] at zero height, the same conversion as at run time."""
    return np.column_stack(geodetic2ecef(lat_deg, lon_deg, 0.0, deg=True))


def decode_topology(path: Path):
    """Countries of a TopoJSON file as (code, name, polygons-of-rings-of-arc-indices), and the arcs (lon/lat)."""
    import pycountry  # build-time only

    topo = json.loads(path.read_text())
    scale = np.asarray(topo["transform"]["scale"], float)
    translate = np.asarray(topo["transform"]["translate"], float)
    # Arcs are delta-encoded integer positions on the quantisation grid.
    arcs = [np.cumsum(np.asarray(a, np.int64), axis=0) * scale + translate for a in topo["arcs"]]
    countries = []
    for g in topo["objects"]["countries"]["geometries"]:
        name = g["properties"]["name"]
        code = pycountry.countries.get(numeric=g["id"]).alpha_3 if g.get("id") is not None else EXTRA_CODES[name]
        polys = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]]
        countries.append((code, name, polys))
    return countries, arcs


def ring_coords(arcs, idx) -> np.ndarray:
    """Coordinates of a ring given by TopoJSON arc indices (a negative index ~i is arc i reversed)."""
    parts = []
    for k, i in enumerate(idx):
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        parts.append(a if k == 0 else a[1:])
    return np.vstack(parts)


def build_land(countries, arcs):
    """Valid polygons and their country index; degenerate rings (islets quantised away) as (code, lon/lat)."""
    polys, owners, islets = [], [], []
    for ci, (code, _name, plist) in enumerate(countries):
        parts = []
        for p in plist:
            rings = [ring_coords(arcs, r) for r in p]
            shell = rings[0]
            if len(shell) < 4 or shapely.area(shapely.polygons(shell)) == 0.0:
                islets.append((code, shell.mean(axis=0)))
                continue
            parts.append(shapely.Polygon(shell, [r for r in rings[1:] if len(r) >= 4]))
        if parts:
            geom = shapely.make_valid(shapely.multipolygons(parts))
            for q in shapely.get_parts(shapely.get_parts(geom)):  # collection -> (multi)polygons -> polygons
                if shapely.get_type_id(q) == 3:
                    polys.append(q)
                    owners.append(ci)
    return polys, np.asarray(owners, np.int16), islets


def coast_arcs(countries) -> dict[int, int]:
    """Arc index -> owning country index, for the arcs used by exactly one country (coastline)."""
    uses: dict[int, list[int]] = {}
    for ci, (_code, _name, plist) in enumerate(countries):
        for p in plist:
            for r in p:
                for i in r:
                    uses.setdefault(i if i >= 0 else ~i, []).append(ci)
    return {a: us[0] for a, us in uses.items() if len(us) == 1}


def densify(lonlat: np.ndarray, spacing_km: float) -> np.ndarray:
    """Points along a polyline with at most ``spacing_km`` between neighbours (linear in lon/lat)."""
    if len(lonlat) < 2:
        return lonlat
    d = np.diff(lonlat, axis=0)
    coslat = np.cos(np.radians(0.5 * (lonlat[1:, 1] + lonlat[:-1, 1])))
    seg_km = 111.2 * np.hypot(d[:, 0] * coslat, d[:, 1])
    seg_km[np.abs(d[:, 0]) > 180] = 0.0  # antimeridian cut: do not interpolate across
    n = np.maximum(np.ceil(seg_km / spacing_km).astype(int), 1)
    out = [lonlat[:1]]
    for k in range(len(d)):
        out.append(lonlat[k] + (np.arange(1, n[k] + 1)[:, None] / n[k]) * d[k])
    return np.vstack(out)


def quantise(values: np.ndarray) -> np.ndarray:
    """Micro-degree integers."""
    return np.round(values * MICRO).astype(np.int64)


def delta(q: np.ndarray) -> np.ndarray:
    """Delta encoding along the first axis (decoded by a cumulative sum)."""
    return np.diff(q, axis=0, prepend=np.zeros((1, *q.shape[1:]), np.int64)).astype(np.int32)


def island_presence(gaz, codes, polys, owners, lonlat, owner_code):
    """Print, for each Japanese and Korean gazetteer island, whether the 1:10m data holds it."""
    print("\nisland presence at 1:10m (Natural Earth only; nearest coast point of the same nation, or on its land):")
    tree = shapely.STRtree(polys)
    xyz = ecef(lonlat[:, 1], lonlat[:, 0])
    for r in gaz:
        if r["nation"] not in regions.EEZ_NATIONS or r["kind"] != "island":
            continue
        lat, lon = float(r["lat_deg"]), float(r["lon_deg"])
        mine = np.flatnonzero(owner_code == r["nation"])
        dist_km = np.min(np.linalg.norm(xyz[mine] - ecef(lat, lon), axis=1)) / 1e3
        inside = any(codes[owners[h]] == r["nation"] for h in tree.query(shapely.points(lon, lat), "intersects"))
        status = "on land" if inside else f"{dist_km:6.1f} km from coast"
        flag = "present" if inside or dist_km <= 3.0 else "MISSING"
        added = " -> added to the coast from the gazetteer" if r["add_to_coast"] == "yes" else ""
        print(f"  {r['name']:20s} {r['nation']} {status:20s} {flag}{added}")


def classify_grid(polys, owners, coast_lat, coast_lon, coast_code, eez_nations, step):
    """Lookup grid over the window holding every point within 200 nm of an EEZ nation's coast.

    Classes (uint16): 0 mixed (compute exactly), 1 sea outside the modelled EEZs, 2 + e sea in the EEZ
    of ``eez_nations[e]``, 100 + k land of country index k.
    """
    eez_mask = np.isin(coast_code, eez_nations)
    lat_e, lon_e = coast_lat[eez_mask], coast_lon[eez_mask]
    pad_lat = regions.EEZ_LIMIT_M / 110_574.0 + 0.2
    lat0 = np.floor((lat_e.min() - pad_lat) / step) * step
    lat1 = np.ceil((lat_e.max() + pad_lat) / step) * step
    pad_lon = regions.EEZ_LIMIT_M / (111_320.0 * np.cos(np.radians(max(abs(lat0), abs(lat1))))) + 0.2
    lon0 = np.floor((lon_e.min() - pad_lon) / step) * step
    lon1 = np.ceil((lon_e.max() + pad_lon) / step) * step
    ny, nx = round((lat1 - lat0) / step), round((lon1 - lon0) / step)
    ii, jj = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    la_lo, lo_lo = lat0 + ii.ravel() * step, lon0 + jj.ravel() * step
    la_c, lo_c = la_lo + step / 2, lo_lo + step / 2
    grid = np.zeros(ny * nx, np.uint16)

    # Land: polygon containment of the whole cell, or no polygon touching it.
    boxes = shapely.box(lo_lo, la_lo, lo_lo + step, la_lo + step)
    tree = shapely.STRtree(polys)
    bi, gi = tree.query(boxes)
    order = np.argsort(gi, kind="stable")
    bi, gi = bi[order], gi[order]
    touches = np.zeros(bi.size, bool)
    inside = np.zeros(bi.size, bool)
    groups, starts = np.unique(gi, return_index=True)
    for g, s, e in zip(groups, starts, np.append(starts[1:], gi.size), strict=True):
        sel = slice(s, e)
        shapely.prepare(polys[g])
        touches[sel] = shapely.intersects(polys[g], boxes[bi[sel]])
        inside[sel] = shapely.contains_properly(polys[g], boxes[bi[sel]])
    n_touch = np.bincount(bi[touches], minlength=grid.size)
    no_land = n_touch == 0
    pure = np.zeros(grid.size, bool)
    pure_country = np.zeros(grid.size, np.int64)
    ok = inside & (n_touch[bi] == 1)
    pure[bi[ok]] = True
    pure_country[bi[ok]] = owners[gi[ok]]
    grid[pure] = 100 + pure_country[pure]

    # Sea: triangle inequality with the cell's circumradius r (chord), against the coast points.
    c = ecef(la_c, lo_c)
    corners = [ecef(la_lo + a * step, lo_lo + b * step) for a in (0, 1) for b in (0, 1)]
    r = np.max([np.linalg.norm(k - c, axis=1) for k in corners], axis=0) * 1.001 + 1.0
    xyz = ecef(coast_lat, coast_lon)
    all_tree = cKDTree(xyz)
    d0, i0 = all_tree.query(c)
    n0 = coast_code[i0]
    d_eez, _ = cKDTree(xyz[eez_mask]).query(c)
    certain_out = (d_eez - r > regions.EEZ_LIMIT_M) | (~np.isin(n0, eez_nations) & (d_eez > d0 + 2 * r))
    sea_class = np.where(certain_out, 1, 0).astype(np.uint16)
    for e, nation in enumerate(eez_nations):
        mine = n0 == nation
        d_other, _ = cKDTree(xyz[coast_code != nation]).query(c[mine])
        sure_in = (d0[mine] + r[mine] <= regions._CHORD_SURE) & (d_other > d0[mine] + 2 * r[mine])
        idx = np.flatnonzero(mine)[sure_in]
        sea_class[idx] = 2 + e
    grid[no_land] = sea_class[no_land]
    grid = grid.reshape(ny, nx)
    frac = {name: float(np.mean(grid == v)) for name, v in (("mixed", 0), ("sea, no EEZ", 1))}
    frac.update({f"{n} EEZ": float(np.mean(grid == 2 + e)) for e, n in enumerate(eez_nations)})
    frac["land"] = float(np.mean(grid >= 100))
    print(f"grid {ny} x {nx} cells of {step} deg over lat {lat0:.2f}..{lat1:.2f}, lon {lon0:.2f}..{lon1:.2f}: "
          + ", ".join(f"{k} {v:.1%}" for k, v in frac.items()))
    return grid, (float(lat0), float(lon0), float(step))


def main(argv=None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("topojson", type=Path, help="world-atlas 2.0.2 countries-10m.json")
    ap.add_argument("--out", type=Path, default=DATA / "regions.npz")
    ap.add_argument("--gazetteer", type=Path, default=DATA / "gazetteer.csv")
    ap.add_argument("--spacing-km", type=float, default=1.0, help="maximum coast point spacing [km]")
    ap.add_argument("--margin-km", type=float, default=30.0, help="band kept beyond 2 x 200 nm [km]")
    args = ap.parse_args(argv)

    countries, arcs = decode_topology(args.topojson)
    codes = np.array([c[0] for c in countries])
    polys, owners, islets = build_land(countries, arcs)
    print(f"{len(countries)} countries, {len(polys)} polygons, {len(islets)} islets below the 1:10m grid")

    # Land polygons, quantised, then decoded exactly as at run time.
    _, coords, (ring_off, poly_off) = shapely.to_ragged_array(polys)
    land_q = quantise(coords)
    polys = shapely.from_ragged_array(shapely.GeometryType.POLYGON, land_q / MICRO, (ring_off, poly_off))

    # Coast points with their owner.
    pts, own = [], []
    for a, ci in coast_arcs(countries).items():
        p = densify(arcs[a], args.spacing_km)
        pts.append(p)
        own.extend([codes[ci]] * len(p))
    for code, xy in islets:
        pts.append(xy[None, :])
        own.append(code)
    lonlat, owner_code = np.vstack(pts), np.array(own)
    with open(args.gazetteer, newline="", encoding="utf-8") as fh:
        gaz = list(csv.DictReader(fh))
    island_presence(gaz, codes, polys, owners, lonlat, owner_code)
    added = [r for r in gaz if r["add_to_coast"] == "yes"]
    lonlat = np.vstack([lonlat, [[float(r["lon_deg"]), float(r["lat_deg"])] for r in added]])
    owner_code = np.concatenate([owner_code, [r["nation"] for r in added]])

    # Keep the band that decides the EEZs; drop exact duplicates (arc end points).
    xyz = ecef(lonlat[:, 1], lonlat[:, 0])
    is_eez = np.isin(owner_code, regions.EEZ_NATIONS)
    band_km = 2 * regions.EEZ_LIMIT_M / 1e3 + args.margin_km
    d, _ = cKDTree(xyz[is_eez]).query(xyz, distance_upper_bound=band_km * 1e3)
    coast_q = quantise(lonlat[np.isfinite(d)])
    owner_code = owner_code[np.isfinite(d)]
    coast_codes = np.unique(owner_code)
    owner_idx = np.searchsorted(coast_codes, owner_code)
    _, first = np.unique(np.column_stack([coast_q, owner_idx]), axis=0, return_index=True)
    first.sort()
    coast_q, owner_idx = coast_q[first], owner_idx[first].astype(np.uint8)
    coast_lon, coast_lat = coast_q[:, 0] / MICRO, coast_q[:, 1] / MICRO
    print(f"\n{len(coast_q)} coast points within {band_km:.0f} km of {'/'.join(regions.EEZ_NATIONS)} coasts: "
          + ", ".join(f"{c} {np.sum(owner_idx == k)}" for k, c in enumerate(coast_codes)))

    grid, (g_lat0, g_lon0, g_step) = classify_grid(polys, owners, coast_lat, coast_lon, coast_codes[owner_idx],
                                                   regions.EEZ_NATIONS, GRID_STEP_DEG)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        format_version=np.array(1),
        source=np.array("Natural Earth 4.1.0 admin-0 countries 1:10m (public domain), via npm world-atlas@2.0.2 "
                        "countries-10m.json; built by tools/build_regions.py"),
        country_codes=codes,
        country_names=np.array([c[1] for c in countries]),
        land_coords_dmicro=delta(land_q),
        land_ring_offsets=ring_off.astype(np.int32),
        land_poly_offsets=poly_off.astype(np.int32),
        land_poly_country=owners,
        coast_lonlat_dmicro=delta(coast_q),
        coast_owner=owner_idx,
        coast_codes=coast_codes,
        coast_spacing_km=np.array(args.spacing_km),
        coast_band_km=np.array(band_km),
        eez_nations=np.array(regions.EEZ_NATIONS),
        added_islands=np.array([r["name"] for r in added]),
        grid=grid,
        grid_origin_step_deg=np.array([g_lat0, g_lon0, g_step]),
    )
    print(f"\nwrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB; {len(land_q)} land vertices, "
          f"{len(coast_q)} coast points, grid {grid.shape})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
