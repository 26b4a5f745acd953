"""Message vocabulary: ids, round trips, validation with field paths, covariance checks, the payload registry."""

from __future__ import annotations

import math
import time

import msgspec
import numpy as np
import pytest

from warnlink.sharing import messages as m
from warnlink.sharing.ids import is_uuid7, uuid7, uuid7_time

T0 = 1_702_944_000.0  # 2023-12-19T00:00:00Z


def make_track(**kw) -> m.Track:
    P = np.diag([150.0, 120.0, 200.0, 3.0, 2.0, 4.0]) ** 2
    P[0, 3] = P[3, 0] = 0.5 * 150.0 * 3.0
    base = dict(id=uuid7(), origin="KOR", time=T0 + 12.5, x=[-3.1e6, 4.0e6, 3.9e6, 1200.0, -800.0, 2500.0], P=P,
                status="confirmed", phase="midcourse", exercise=True)
    base.update(kw)
    return m.Track.from_arrays(**base)


def make_launch(**kw) -> m.LaunchEvent:
    base = dict(id=uuid7(), event_id=uuid7(), origin="JPN", time=T0 + 40.0, first_detection=T0 + 25.0,
                launch_point=m.GeoPoint(lat_deg=39.2, lon_deg=125.67, alt_m=30.0), launch_time=T0,
                launch_point_cov_enu_m2=(4e6, 1e5, 0.0, 2.5e6, 0.0, 1e4), launch_time_sigma_s=3.0, exercise=False)
    base.update(kw)
    return m.LaunchEvent(**base)


def make_assessment(**kw) -> m.Assessment:
    base = dict(id=uuid7(), event_id=uuid7(), object_id=uuid7(), origin="USA", time=T0 + 90.0,
                launch_point=m.GeoPoint(lat_deg=39.2, lon_deg=125.67), launch_time=T0,
                impact_point=m.GeoPoint(lat_deg=41.49, lon_deg=136.97), impact_time=T0 + 1380.0,
                impact_ellipse=m.Ellipse(semi_major_m=25_000.0, semi_minor_m=8_000.0, orientation_deg=80.0),
                apogee_m=1.0e6, range_m=4.6e6, missile_class="IRBM", object_kind="warhead",
                threatened=(m.RegionProbability(region="JPN_eez", probability=0.2),),
                overflights=(m.RegionProbability(region="JPN_land", probability=0.97),), confidence=0.8,
                exercise=False)
    base.update(kw)
    return m.Assessment(**base)


def make_report(**kw) -> m.SensorReport:
    base = dict(id=uuid7(), nation="KOR", sensor_id="KOR-GP-1", sensor_kind="radar", time=T0 + 30.0,
                measurement=(350_000.0, 1.2, 0.3), cov=(2500.0, 0.0, 0.0, 1e-6, 0.0, 1e-6),
                sensor_pos_ecef_m=(-3.0e6, 4.1e6, 3.7e6), exercise=True)
    base.update(kw)
    return m.SensorReport(**base)


def encode_dict(d: dict) -> bytes:
    return msgspec.msgpack.encode(d)


def as_dict(msg) -> dict:
    return msgspec.msgpack.decode(msgspec.msgpack.encode(msg))


# ---------------------------------------------------------------------------------------------- ids
def test_uuid7_format_order_and_time():
    ids = [uuid7() for _ in range(5000)]
    assert all(is_uuid7(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # strictly time-ordered within the process
    v = int(ids[0].replace("-", ""), 16)
    assert (v >> 76) & 0xF == 7 and (v >> 62) & 0b11 == 0b10
    assert abs(uuid7_time(uuid7()) - time.time()) < 0.5


def test_uuid7_explicit_time_and_validation():
    ns = 1_702_944_000_123_456_789
    a, b = uuid7(ns), uuid7(ns)
    assert a != b and a[:18] == b[:18]  # same 60-bit time field, different random bits
    assert uuid7_time(a) == pytest.approx(ns / 1e9, abs=1e-6)
    assert not is_uuid7(a + "\n") and not is_uuid7(a.upper()) and not is_uuid7("not-an-id")
    with pytest.raises(ValueError, match="time_ns"):
        uuid7(-1)
    with pytest.raises(ValueError, match="UUIDv7"):
        uuid7_time("0" * 36)


# ---------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("factory", [make_track, make_launch, make_assessment, make_report])
def test_round_trip_through_the_union_and_by_kind(factory):
    msg = factory()
    data = m.encode_payload(msg)
    kind = m.kind_of(msg)
    assert m.decode_payload(data) == msg
    assert m.decode_payload(data, kind) == msg
    assert msgspec.msgpack.decode(data)["type"] == kind  # the tag is the kind
    assert msgspec.msgpack.decode(data)["v"] == m.SCHEMA_VERSION


def test_track_covariance_round_trip_and_packing():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(6, 6))
    P = A @ A.T + 0.1 * np.eye(6)
    t = make_track(P=P)
    assert len(t.cov) == 21
    np.testing.assert_allclose(t.covariance(), P, rtol=0, atol=1e-15 * np.abs(P).max())
    np.testing.assert_array_equal(m.unpack_cov(m.pack_cov(P), 6), t.covariance())
    again = m.decode_payload(m.encode_payload(t), "track")
    np.testing.assert_array_equal(again.covariance(), t.covariance())


def test_pack_cov_catches_what_the_cheap_check_cannot():
    # every 2x2 minor is >= 0, yet the matrix has a negative eigenvalue
    C = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]])
    assert np.linalg.eigvalsh(C)[0] < 0
    m.check_cov(tuple(C[np.triu_indices(3)]), 3)  # passes: necessary condition only
    with pytest.raises(ValueError, match="not positive semi-definite"):
        m.pack_cov(C)
    with pytest.raises(ValueError, match="not symmetric"):
        m.pack_cov(np.array([[1.0, 0.5], [0.4, 1.0]]))
    with pytest.raises(ValueError, match="NaN or inf"):
        m.pack_cov(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        m.pack_cov(np.ones((2, 3)))


def test_pack_covs_matches_pack_cov_matrix_by_matrix():
    good = np.diag([4.0, 9.0, 1.0])
    stack = np.array([good, [[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]],
                      [[1.0, 0.5, 0.0], [0.4, 1.0, 0.0], [0.0, 0.0, 1.0]], np.full((3, 3), np.nan), 2 * good])
    out = m.pack_covs(stack, "P")
    assert out[0] == m.pack_cov(good) and out[4] == m.pack_cov(2 * good)
    for k, match in ((1, "not positive semi-definite"), (2, "not symmetric"), (3, "NaN or inf")):
        assert isinstance(out[k], ValueError) and match in str(out[k]) and str(out[k]).startswith("P:")
    assert m.pack_covs(np.zeros((0, 3, 3))) == []
    with pytest.raises(ValueError, match="stack of square"):
        m.pack_covs(np.ones((2, 3)))


def test_unpack_covs_matches_unpack_cov_and_names_a_wrong_size():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(5, 6, 6))
    P = A @ np.swapaxes(A, 1, 2)
    flats = [m.pack_cov(p) for p in P]
    full = m.unpack_covs(flats, 6)
    assert full.shape == (5, 6, 6)
    for k in range(5):
        np.testing.assert_array_equal(full[k], m.unpack_cov(flats[k], 6))
        np.testing.assert_allclose(full[k], P[k], rtol=0, atol=1e-12 * np.abs(P[k]).max())
    assert m.unpack_covs([], 6).shape == (0, 6, 6)
    with pytest.raises(ValueError, match="21 upper-triangle"):
        m.unpack_covs([flats[0][:20]], 6)
    with pytest.raises(ValueError, match="21 upper-triangle"):
        m.unpack_cov(flats[0][:20], 6)


def test_iso_helpers():
    assert m.to_iso(T0) == "2023-12-19T00:00:00.000000Z"
    assert m.from_iso("2023-12-19T00:00:00Z") == T0
    assert m.from_iso(m.to_iso(T0 + 0.25)) == T0 + 0.25
    with pytest.raises(ValueError, match="no UTC offset"):
        m.from_iso("2023-12-19T00:00:00")


# ---------------------------------------------------------------------------------------------- validation
def _mutated(msg, path: list, value):
    d = as_dict(msg)
    node = d
    for p in path[:-1]:
        node = node[p]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return encode_dict(d)


_DELETE = object()


@pytest.mark.parametrize(
    "factory, path, value, match",
    [
        (make_track, ["state", 2], math.nan, r"\$\.state\[2\]"),
        (make_track, ["state", 4], math.inf, r"\$\.state\[4\]"),
        (make_track, ["time"], math.nan, r"\$\.time"),
        (make_track, ["time"], "2023-12-19T00:00:00Z", r"Expected `float`, got `str` - at `\$\.time`"),
        (make_track, ["cov", 0], -1.0, r"variance \[0,0\].*not PSD"),
        (make_track, ["cov", 1], 1e9, r"element \[0,1\].*not PSD"),
        (make_track, ["cov"], [1.0] * 20, r"\$\.cov"),
        (make_track, ["origin"], "PRK", r"\$\.origin"),
        (make_track, ["status"], "lost-ish", r"\$\.status"),
        (make_track, ["id"], "a.b", r"\$\.id"),  # a dot would break the subject scheme
        (make_track, ["id"], "x" * 65, r"\$\.id"),
        (make_track, ["v"], 2, r"\$\.v"),
        (make_track, ["exercise"], 1, r"\$\.exercise"),
        (make_track, ["sensor_id"], "KOR-GP-1", r"unknown field `sensor_id`"),
        (make_track, ["exercise"], _DELETE, r"missing required field `exercise`"),
        (make_launch, ["launch_point", "lat_deg"], 91.0, r"\$\.launch_point\.lat_deg"),
        (make_launch, ["launch_point", "lon_deg"], -180.5, r"\$\.launch_point\.lon_deg"),
        (make_launch, ["launch_point_cov_enu_m2", 3], -5.0, r"launch_point_cov_enu_m2"),
        (make_launch, ["launch_time_sigma_s"], math.nan, r"\$\.launch_time_sigma_s"),
        (make_assessment, ["impact_ellipse", "semi_minor_m"], 30_000.0, r"semi_minor_m.*semi_major_m"),
        (make_assessment, ["impact_ellipse", "orientation_deg"], 180.0, r"orientation_deg"),
        (make_assessment, ["impact_time"], 0.0, r"impact_time.*before launch_time"),
        (make_assessment, ["threatened", 0, "probability"], 1.5, r"\$\.threatened\[0\]\.probability"),
        (make_assessment, ["threatened"], [{"region": "r", "probability": 0.1}] * 65, r"\$\.threatened"),
        (make_assessment, ["missile_class"], "x" * 200, r"\$\.missile_class"),
        (make_assessment, ["object_kind"], "decoy", r"\$\.object_kind"),
        (make_report, ["measurement"], [1.0, 2.0], r"radar report has 3 or 4"),
        (make_report, ["measurement", 1], math.nan, r"\$\.measurement\[1\]"),
        (make_report, ["cov"], [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], r"cov: expected 6"),
    ],
)
def test_decode_rejects_bad_fields_naming_the_path(factory, path, value, match):
    data = _mutated(factory(), path, value)
    with pytest.raises(msgspec.ValidationError, match=match):
        m.decode_payload(data, m.kind_of(factory()))


def test_decode_rejects_garbage_and_unknown_tags():
    with pytest.raises(msgspec.DecodeError):
        m.decode_payload(b"\xc1\xff\x00")
    with pytest.raises(msgspec.ValidationError, match="type"):
        m.decode_payload(encode_dict({"type": "bogus", "v": 1}))
    # a launch decoded as a track fails; identify_payload still recognises it
    data = m.encode_payload(make_launch())
    with pytest.raises(msgspec.ValidationError):
        m.decode_payload(data, "track")
    assert m.identify_payload(data) == "launch"
    assert m.identify_payload(b"\x90") is None


def test_construction_checks_cross_field_rules():
    with pytest.raises(ValueError, match="not PSD"):
        make_report(cov=(1.0, 5.0, 0.0, 1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="infrared report has 2"):
        make_report(sensor_kind="ir")
    with pytest.raises(ValueError, match="x: expected 6 finite"):
        make_track(x=[0.0, 0.0, math.nan, 0.0, 0.0, 0.0])


# ---------------------------------------------------------------------------------------------- registry
def test_registry_and_payload_accessors():
    assert m.kind_of(make_track()) == "track" and m.kind_of(make_report()) == "report"
    with pytest.raises(TypeError, match="not a registered message type"):
        m.kind_of(m.GeoPoint(lat_deg=0.0, lon_deg=0.0))
    assert m.payload_origin(make_report()) == "KOR" and m.payload_origin(make_assessment()) == "USA"
    assert m.payload_exercise(make_track()) is True and m.payload_exercise(make_launch()) is False
    assert m.payload_time(make_track()) == T0 + 12.5
    with pytest.raises(ValueError, match="no exercise marking"):
        m.payload_exercise(m.GeoPoint(lat_deg=0.0, lon_deg=0.0))


def test_register_payload_rejects_unusable_types():
    class Wrong(msgspec.Struct, tag="w", tag_field="kind"):
        x: int

    class Clash(msgspec.Struct, tag="track", tag_field="type"):
        x: int

    with pytest.raises(ValueError, match="unknown message kind"):
        m.register_payload("gossip", m.Track)
    with pytest.raises(TypeError, match=r"msgspec\.Struct"):
        m.register_payload("alert", dict)
    with pytest.raises(TypeError, match="tagged on 'kind'"):
        m.register_payload("alert", Wrong)
    with pytest.raises(TypeError, match="already used by Track"):
        m.register_payload("alert", Clash)


def test_alert_from_alerts_model_joins_when_present():
    model = pytest.importorskip("warnlink.alerts.model")
    from datetime import UTC, datetime

    assert m.payload_types()["alert"] is model.Alert
    now = datetime.fromtimestamp(T0 + 100.0, UTC)
    alert = model.Alert(id=uuid7(), nation="JPN", status="Exercise", msg_type="Alert", sent=now, valid_at=now,
                        event_id=uuid7(), object_id=uuid7(), object_kind="warhead", regions=("JPN_land",),
                        probability=0.9, headline="EXERCISE missile warning", exercise=True)
    assert m.kind_of(alert) == "alert"
    back = m.decode_payload(m.encode_payload(alert), "alert")
    assert back == alert
    assert m.payload_exercise(back) is True and m.payload_time(back) == T0 + 100.0
