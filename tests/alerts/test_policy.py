"""Alert policy (YAML), the alert lifecycle engine, the Alert message and the exercise rule.

Assessment inputs are built by hand (the assessment stage is not here yet); the scenarios follow public
accounts (2023-04-13: a separated booster's predicted impact near Hokkaido; the warhead fell outside the
EEZ). Impact points and probabilities are NOTIONAL.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import msgspec
import numpy as np
import pytest

from warnlink.alerts import (
    Alert,
    AlertEngine,
    AlertError,
    AlertInputError,
    AlertPolicy,
    AssessmentInput,
    ImpactArea,
    PolicyError,
    Regions,
    Thresholds,
    UpdateRules,
    decode_alert,
    decode_policies,
    derive_status,
    encode_alert,
    load_policies,
    load_policy,
    to_cap_xml,
)
from warnlink.alerts import policy as policy_mod
from warnlink.geo.geodesic import direct

EPOCH = datetime(2023, 4, 12, 22, 22, tzinfo=UTC)  # 07:22 JST, 13 Apr 2023
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
HOKKAIDO = ImpactArea(lat_deg=43.0, lon_deg=142.0, semi_major_m=120e3, semi_minor_m=40e3, orientation_deg=75.0)
FAR_EAST = ImpactArea(lat_deg=41.0, lon_deg=150.0, semi_major_m=90e3, semi_minor_m=30e3, orientation_deg=80.0)


def immediate(policy: AlertPolicy) -> AlertPolicy:
    """The policy with no entry confirmation (``confirm_s``, tested in test_lifecycle_rules): an input at or above
    a threshold alerts at once, so that each test here can drive the chain one input at a time."""
    return msgspec.structs.replace(policy, confirm_s=0.0)


@pytest.fixture(scope="module")
def jpn() -> AlertPolicy:
    return immediate(load_policy("JPN"))


def inp(t, object_id="L1/m1/warhead", kind="warhead", alive=True, exercise=False, land=0.0, eez=0.0,
        overflight=0.0, impact=HOKKAIDO, impact_t=2280.0, **kw) -> AssessmentInput:
    """One assessment input for JPN (other nations' regions included, to check they are ignored)."""
    return AssessmentInput(
        t_s=t, object_id=object_id, event_id="L1", kind=kind, track_alive=alive, exercise=exercise,
        impact_probability={"JPN_land": land, "JPN_eez": eez, "KOR_land": 0.9},
        overflight_probability={"JPN_land": overflight}, impact_t_s=impact_t, impact=impact, **kw)


def roundtrip(msgs):
    """Every emitted message passes full decoding validation and round-trips unchanged."""
    for m in msgs:
        assert decode_alert(encode_alert(m)) == m
    return msgs


# --------------------------------------------------------------------------------------------- default policy


def test_default_policy_covers_three_nations():
    pols = load_policies()
    assert sorted(pols) == ["JPN", "KOR", "USA"]
    for nation, p in pols.items():
        assert p.nation == nation
        assert p.regions.land == (f"{nation}_land",) and p.regions.eez == (f"{nation}_eez",)
        assert 0 < p.staleness_s <= 5.0
        assert set(p.alert_kinds) == {"warhead", "unknown"}
        assert p.release_margin < min(p.thresholds.land, p.thresholds.eez, p.thresholds.overflight)


# -------------------------------------------------------------------------------------------------- lifecycle


def test_alert_update_cancel_chain_with_references(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    assert eng.update(inp(100.0, land=0.04)) == []                      # below the land threshold (0.05)
    a = roundtrip(eng.update(inp(101.0, land=0.30)))
    assert [m.msg_type for m in a] == ["Alert"] and a[0].references == ()
    assert a[0].regions == ("JPN_land",) and a[0].probability == pytest.approx(0.30)
    assert a[0].sent == EPOCH + timedelta(seconds=101) and a[0].impact_time == EPOCH + timedelta(seconds=2280)
    assert eng.update(inp(102.0, land=0.35)) == []                      # within the update hysteresis
    u1 = roundtrip(eng.update(inp(103.0, land=0.30, eez=0.50)))        # EEZ joins: sent at once, interval or not
    assert [m.msg_type for m in u1] == ["Update"] and u1[0].regions == ("JPN_eez", "JPN_land")
    assert u1[0].probability == pytest.approx(0.80)                   # disjoint regions: land or EEZ = sum
    assert [r.id for r in u1[0].references] == [a[0].id]
    gap = jpn.update.min_interval_s
    assert gap > 0
    assert eng.update(inp(104.0, land=0.70, eez=0.50)) == []            # +0.20, but within the minimum interval
    assert eng.update(inp(103.0 + gap - 1, land=0.30, eez=0.50)) == []  # reverted before it was due: never sent
    u2 = roundtrip(eng.update(inp(103.0 + gap, land=0.70, eez=0.50)))  # +0.20 once the interval has passed
    assert [m.msg_type for m in u2] == ["Update"]
    assert [r.id for r in u2[0].references] == [a[0].id, u1[0].id]
    assert [r.sent for r in u2[0].references] == [a[0].sent, u1[0].sent]
    t_c = 104.0 + gap
    c = roundtrip(eng.update(inp(t_c, alive=False, land=0.70, eez=0.50)))  # a Cancel never waits
    assert [m.msg_type for m in c] == ["Cancel"] and c[0].reason == "track_lost"
    assert [r.id for r in c[0].references] == [a[0].id, u1[0].id, u2[0].id]
    assert c[0].sent == EPOCH + timedelta(seconds=t_c)
    ids = [m.id for m in (*a, *u1, *u2, *c)]
    assert len(set(ids)) == 4 and all(UUID7.match(i) for i in ids)
    assert all(m.status == "Actual" and not m.exercise for m in (*a, *u1, *u2, *c))
    assert eng.active() == {} and eng.stats["Alert"] == 1 and eng.stats["Update"] == 2 and eng.stats["Cancel"] == 1
    assert eng.stats["update_reasons"] == {"regions": 1, "probability": 1} and eng.stats["Update_deferred"] == 1


@pytest.mark.parametrize("kind", ["stage", "debris"])
def test_no_alert_for_stage_or_debris(jpn, kind):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    for t in np.arange(0.0, 30.0, 1.0):
        assert eng.update(inp(float(t), object_id="L1/m1/stage1", kind=kind, land=0.9, eez=0.95,
                              overflight=0.9)) == []
    assert eng.active() == {}


def test_separated_booster_toward_hokkaido_warhead_outside_eez(jpn):
    """2023-04-13: an object first predicted to fall on Hokkaido was a separated stage; the warhead fell
    outside the EEZ. The warhead never alerts; the stage's alert is cancelled as soon as it is classified."""
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    out = []
    t_classified = 1985.0
    for t in np.arange(1975.0, 2000.0, 1.0):
        t = float(t)
        out += eng.update(inp(t, object_id="L1/m1/warhead", land=0.0, eez=0.01, impact=FAR_EAST))
        kind = "unknown" if t < t_classified else "stage"
        out += eng.update(inp(t, object_id="L1/m1/obj2", kind=kind, land=0.6, eez=0.8))
        out += eng.tick(t)
    roundtrip(out)
    assert all(m.object_id == "L1/m1/obj2" for m in out)
    assert [m.msg_type for m in out] == ["Alert", "Cancel"]
    cancel = out[1]
    assert cancel.reason == "reclassified" and cancel.object_kind == "stage"
    assert (cancel.sent - (EPOCH + timedelta(seconds=t_classified))).total_seconds() <= 5.0
    assert cancel.references[0].id == out[0].id


def test_stage_classified_before_threshold_never_alerts(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    out = eng.update(inp(10.0, object_id="o2", kind="unknown", land=0.01))
    for t in range(11, 30):
        out += eng.update(inp(float(t), object_id="o2", kind="stage", land=0.9))
    assert out == []


@pytest.mark.parametrize("phase", [0.0, 0.3, 0.7])
def test_silent_track_cancelled_within_5_s_by_tick(jpn, phase):
    """The track simply stops updating; 1 Hz ticks at any phase cancel it within 5 s of the last update."""
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    t_last = 50.0 + phase
    assert [m.msg_type for m in eng.update(inp(t_last, land=0.5))] == ["Alert"]
    out = []
    for t in np.arange(51.0, 70.0, 1.0):
        msgs = eng.tick(float(t))
        if float(t) - t_last < jpn.staleness_s:
            assert msgs == []
        out += msgs
    roundtrip(out)
    assert [m.msg_type for m in out] == ["Cancel"] and out[0].reason == "stale"
    delay = (out[0].sent - (EPOCH + timedelta(seconds=t_last))).total_seconds()
    assert jpn.staleness_s <= delay <= min(jpn.staleness_s + 1.0, 5.0)


def test_lost_call_cancels_at_once_and_reacquired_track_starts_new_chain(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    first = eng.update(inp(10.0, land=0.5))
    c = roundtrip(eng.lost("L1/m1/warhead", 11.5))
    assert [m.msg_type for m in c] == ["Cancel"] and c[0].reason == "track_lost"
    assert c[0].sent == EPOCH + timedelta(seconds=11.5)
    assert eng.lost("L1/m1/warhead", 12.0) == []                        # nothing open any more
    assert eng.update(inp(11.0, land=0.5)) == []                        # older than the loss: ignored
    assert eng.stats["out_of_order"] == 1
    again = roundtrip(eng.update(inp(20.0, land=0.5)))                  # re-acquired
    assert [m.msg_type for m in again] == ["Alert"] and again[0].references == ()
    assert again[0].id != first[0].id


def test_out_of_order_update_is_ignored_and_counted(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    eng.update(inp(10.0, land=0.5))
    assert eng.update(inp(9.0, land=0.9, eez=0.9)) == []
    assert eng.stats["out_of_order"] == 1 and eng.active()["L1/m1/warhead"].regions == ("JPN_land",)


def test_overflight_alert_with_times(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    m = roundtrip(eng.update(inp(300.0, overflight=0.7, impact=FAR_EAST, overflight_start_s=400.0,
                                 overflight_end_s=430.0)))
    assert m[0].msg_type == "Alert" and m[0].regions == () and m[0].overflight_regions == ("JPN_land",)
    assert m[0].overflight_start == EPOCH + timedelta(seconds=400)
    assert m[0].overflight_end == EPOCH + timedelta(seconds=430)
    assert "overflight of JPN_land" in m[0].headline


def test_replay_gives_identical_messages(jpn):
    g = jpn.update.min_interval_s
    seq = [inp(1.0, land=0.2), inp(1.0 + g, land=0.5), inp(2.0 + g, land=0.5, eez=0.4), inp(3.0 + g, alive=False)]

    def run():
        eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
        return [m for a in seq for m in eng.update(a)]

    first, second = run(), run()
    assert len(first) == 4 and first == second


def test_forgets_quiet_objects(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH, forget_after_s=60.0)
    eng.update(inp(0.0, object_id="quiet", land=0.0))
    eng.tick(30.0)
    assert "quiet" in eng._objects
    eng.tick(61.0)
    assert "quiet" not in eng._objects


# ------------------------------------------------------------------------------------------------- hysteresis


def test_threshold_hysteresis_at_the_edge(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    on, off = jpn.thresholds.land, jpn.thresholds.land - jpn.release_margin
    assert eng.update(inp(0.0, land=on - 1e-9)) == []
    assert [m.msg_type for m in eng.update(inp(1.0, land=on))] == ["Alert"]
    for k, p in enumerate([on - 0.5 * jpn.release_margin, on + 0.01, off, on - 0.001]):
        assert eng.update(inp(2.0 + k, land=p)) == []                   # inside the band: no churn
    assert eng.update(inp(10.0, land=off - 1e-9)) == []                # below: the release hold begins
    c = eng.update(inp(10.0 + jpn.release_hold_s, land=off - 1e-9))
    assert [m.msg_type for m in c] == ["Cancel"] and c[0].reason == "below_threshold"


def test_probability_drift_accumulates_against_last_sent(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    G = jpn.update.min_interval_s  # inputs spaced by the minimum interval between Updates
    eng.update(inp(0.0, land=0.30))
    step = jpn.update.probability / 4
    out = []
    for k in range(1, 6):
        out += eng.update(inp(k * G, land=0.30 + k * step))
    assert [m.msg_type for m in out] == ["Update"]
    assert out[0].probability == pytest.approx(0.30 + 4 * step)


def test_impact_time_point_and_ellipse_hysteresis(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    G = jpn.update.min_interval_s  # inputs spaced by the minimum interval between Updates
    eng.update(inp(0.0, land=0.5))
    dt = jpn.update.impact_time_s
    assert eng.update(inp(1 * G, land=0.5, impact_t=2280.0 + 0.9 * dt)) == []
    assert [m.msg_type for m in eng.update(inp(2 * G, land=0.5, impact_t=2280.0 + 1.1 * dt))] == ["Update"]
    t_imp = 2280.0 + 1.1 * dt
    d = jpn.update.impact_point_km * 1e3

    def moved(dist_m):
        lat, lon = direct(HOKKAIDO.lat_deg, HOKKAIDO.lon_deg, 30.0, dist_m)
        return msgspec.structs.replace(HOKKAIDO, lat_deg=float(lat), lon_deg=float(lon))

    assert eng.update(inp(3 * G, land=0.5, impact_t=t_imp, impact=moved(0.9 * d))) == []
    assert [m.msg_type for m in eng.update(inp(4 * G, land=0.5, impact_t=t_imp, impact=moved(1.1 * d)))] == ["Update"]
    base = moved(1.1 * d)
    f = jpn.update.ellipse_fraction
    small = msgspec.structs.replace(base, semi_major_m=base.semi_major_m * (1 - 0.9 * f),
                                    semi_minor_m=min(base.semi_minor_m, base.semi_major_m * (1 - 0.9 * f)))
    assert eng.update(inp(5 * G, land=0.5, impact_t=t_imp, impact=small)) == []
    smaller = msgspec.structs.replace(base, semi_major_m=base.semi_major_m * (1 - 1.1 * f),
                                      semi_minor_m=min(base.semi_minor_m, base.semi_major_m * (1 - 1.1 * f)))
    assert [m.msg_type for m in eng.update(inp(6 * G, land=0.5, impact_t=t_imp, impact=smaller))] == ["Update"]


def test_kind_refinement_unknown_to_warhead_updates(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    G = jpn.update.min_interval_s  # inputs spaced by the minimum interval between Updates
    eng.update(inp(0.0, kind="unknown", land=0.5))
    m = eng.update(inp(1 * G, kind="warhead", land=0.5))
    assert [x.msg_type for x in m] == ["Update"] and m[0].object_kind == "warhead"


# ---------------------------------------------------------------------------------------------- config errors

GOOD = """
version: 1
defaults:
  thresholds: {land: 0.05, eez: 0.2, overflight: 0.1}
  release_margin: 0.02
  update: {probability: 0.1, impact_time_s: 30, impact_point_km: 50, ellipse_fraction: 0.5}
  alert_kinds: [warhead, unknown]
  staleness_s: 3
nations:
  JPN:
    regions: {land: [JPN_land], eez: [JPN_eez], overflight: [JPN_land]}
"""


def test_nation_overrides_defaults_field_by_field():
    text = GOOD + "    thresholds: {land: 0.03}\n    staleness_s: 1.5\n"
    p = decode_policies(text)["JPN"]
    assert p.thresholds.land == 0.03 and p.thresholds.eez == 0.2 and p.staleness_s == 1.5
    assert p.update.min_interval_s == 0.0  # optional: no minimum interval unless the file gives one
    p = decode_policies(GOOD + "    update: {min_interval_s: 15}\n")["JPN"]
    assert p.update.min_interval_s == 15.0 and p.update.probability == 0.1


@pytest.mark.parametrize(("edit", "expected"), [
    (("staleness_s: 3", "staleness_s: 6"), "$.defaults.staleness_s"),
    (("land: 0.05", "land: 1.5"), "$.defaults.thresholds.land"),
    (("land: 0.05", "land: 0"), "$.defaults.thresholds.land"),
    (("land: 0.05", "land: lots"), "$.defaults.thresholds.land"),
    (("release_margin: 0.02", "release_margin: 0.05"), "release_margin: must be a number in [0, 0.05)"),
    (("alert_kinds: [warhead, unknown]", "alert_kinds: [warhead, stage]"), "2023-04-13"),
    (("alert_kinds: [warhead, unknown]", "alert_kinds: [unknown]"), "must include 'warhead'"),
    (("alert_kinds: [warhead, unknown]", "alert_kinds: [warhead, rv]"), "unknown kind 'rv'"),
    (("staleness_s: 3", "stalenes_s: 3"), "unknown field `stalenes_s`"),
    (("  JPN:", "  jp:"), "$.nations"),
    (("version: 1", "version: 2"), "$.version"),
    (("[JPN_eez]", "[JPN eez]"), "regions.eez[0]"),
    (("[JPN_eez]", "[JPN_land, JPN_land]"), "duplicate region names"),
    (("  thresholds: {land: 0.05, eez: 0.2, overflight: 0.1}\n", "  thresholds: {land: 0.05, eez: 0.2}\n"),
     "nations.JPN: missing `thresholds.overflight`"),
    (("update: {probability: 0.1,", "update: {probability: -0.1,"), "$.defaults.update.probability"),
    (("update: {probability: 0.1,", "update: {min_interval_s: -5, probability: 0.1,"),
     "$.defaults.update.min_interval_s"),
    (("version: 1", "version: 1\n  bad: [unclosed"), "not valid YAML"),
])
def test_bad_policy_is_rejected_with_clear_error(edit, expected):
    old, new = edit
    assert old in GOOD
    with pytest.raises(PolicyError) as exc:
        decode_policies(GOOD.replace(old, new, 1), where="policy.yaml")
    assert expected in str(exc.value) and "policy.yaml" in str(exc.value)


def test_policy_file_errors(tmp_path):
    with pytest.raises(PolicyError, match="cannot read alert policy"):
        load_policies(tmp_path / "missing.yaml")
    f = tmp_path / "p.yaml"
    f.write_text(GOOD)
    assert list(load_policies(f)) == ["JPN"]
    with pytest.raises(PolicyError, match="no policy for nation 'KOR'; known: JPN"):
        load_policy("KOR", f)
    with pytest.raises(PolicyError, match=r"no nations - at `\$.nations`"):
        decode_policies("version: 1\nnations: {}\n")


def test_policy_constructed_in_python_is_checked():
    kw = dict(nation="JPN", regions=Regions(land=("JPN_land",)),
              thresholds=Thresholds(land=0.05, eez=0.2, overflight=0.1), release_margin=0.02,
              update=UpdateRules(probability=0.1, impact_time_s=30, impact_point_km=50, ellipse_fraction=0.5))
    AlertPolicy(**kw)
    with pytest.raises(PolicyError, match="staleness_s"):
        AlertPolicy(**kw, staleness_s=5.5)
    with pytest.raises(PolicyError, match=r"thresholds\.eez"):
        AlertPolicy(**{**kw, "thresholds": Thresholds(land=0.05, eez=float("nan"), overflight=0.1)})
    with pytest.raises(PolicyError, match="regions: give at least one"):
        AlertPolicy(**{**kw, "regions": Regions()})
    with pytest.raises(PolicyError, match="nation"):
        AlertPolicy(**{**kw, "nation": "Japan"})


def test_engine_constructor_errors(jpn):
    with pytest.raises(ValueError, match="mode"):
        AlertEngine(jpn, mode="real", epoch=EPOCH)
    with pytest.raises(TypeError):
        AlertEngine(jpn, epoch=EPOCH)                                    # no default mode
    with pytest.raises(ValueError, match="epoch"):
        AlertEngine(jpn, mode="live", epoch=datetime(2023, 4, 12))
    with pytest.raises(ValueError, match="forget_after_s"):
        AlertEngine(jpn, mode="live", epoch=EPOCH, forget_after_s=1.0)


@pytest.mark.parametrize(("kw", "field"), [
    ({"t": float("nan")}, "t_s"),
    ({"land": 1.5}, "impact_probability['JPN_land']"),
    ({"kind": "booster"}, "kind"),
    ({"alive": "yes"}, "track_alive"),
    ({"exercise": 1}, "exercise"),
    ({"object_id": "has space"}, "object_id"),
    ({"impact_t": float("inf")}, "impact_t_s"),
    ({"overflight_start_s": 10.0, "overflight_end_s": 5.0}, "overflight_end_s"),
])
def test_bad_input_is_refused_with_reason(jpn, kw, field):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    args = {"t": 1.0, "land": 0.5, **kw}
    t = args.pop("t")
    with pytest.raises(AlertInputError) as exc:
        eng.update(inp(t, **args))
    assert str(exc.value).startswith(field)
    assert eng.active() == {}


# ---------------------------------------------------------------------------------------- Alert JSON decoding


@pytest.fixture(scope="module")
def alert_json(jpn) -> dict:
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    eng.update(inp(1.0, land=0.5))
    up = eng.update(inp(2.0, land=0.5, eez=0.5))[0]
    return json.loads(encode_alert(up))


def _exercise(d):
    return {**d, "exercise": True, "headline": "EXERCISE - " + d["headline"]}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: {**d, "status": "actual"}, "$.status"),
    (lambda d: {**d, "version": 2}, "$.version"),
    (lambda d: {**d, "extra": 1}, "unknown field `extra`"),
    (lambda d: {k: v for k, v in d.items() if k != "exercise"}, "missing required field `exercise`"),
    (lambda d: {**d, "exercise": "false"}, "$.exercise"),
    (lambda d: {**d, "exercise": True}, "status: an exercise alert"),
    (lambda d: _exercise(d), "status: an exercise alert (exercise=true) must have status 'Exercise', not 'Actual'"),
    (lambda d: {**d, "status": "Exercise"}, "exercise: an alert with status 'Exercise'"),
    (lambda d: {**d, "status": "Exercise", "exercise": True}, "headline: a Exercise alert's headline"),
    (lambda d: {**d, "id": "not-a-uuid"}, "$.id"),
    (lambda d: {**d, "id": "01877791-3de0-47c8-b8f0-bffab9affa93"}, "$.id"),    # UUIDv4, not v7
    (lambda d: {**d, "sent": "2023-04-12T22:23:40"}, "sent: time must be timezone-aware"),
    (lambda d: {**d, "sent": "2023-04-12T22:23:40+09:00"}, "sent: time must be UTC"),
    (lambda d: {**d, "probability": 1.5}, "$.probability"),
    (lambda d: {**d, "impact": {**d["impact"], "lat_deg": 12345.678}}, "$.impact.lat_deg"),   # becomes 1e999
    (lambda d: {**d, "impact": {**d["impact"], "semi_minor_m": 1e6}}, "impact.semi_minor_m"),
    (lambda d: {**d, "object_id": "x" * 129}, "$.object_id"),
    (lambda d: {**d, "object_id": "a\nb"}, "$.object_id"),
    (lambda d: {**d, "regions": ["JPN land"]}, "$.regions[0]"),
    (lambda d: {**d, "headline": "x" * 161}, "$.headline"),
    (lambda d: {**d, "references": []}, "references: an Update must reference"),
    (lambda d: {**d, "msg_type": "Alert"}, "references: a new Alert references no earlier message"),
    (lambda d: {**d, "msg_type": "Cancel"}, "reason: a Cancel must state"),
    (lambda d: {**d, "reason": "track_lost"}, "reason: only a Cancel"),
    (lambda d: {**d, "references": d["references"] * 2}, "references: duplicate ids"),
    (lambda d: {**d, "references": [{"id": d["id"], "sent": d["sent"]}]}, "cannot reference itself"),
    (lambda d: {**d, "object_kind": "stage"}, "object_kind: a stage never raises"),
    (lambda d: {**d, "regions": [], "overflight_regions": []}, "regions: an Update needs"),
    (lambda d: {**d, "references": [{"id": d["references"][0]["id"], "sent": "2030-01-01T00:00:00Z"}]},
     "sent after this one"),
    (lambda d: [d], "Expected `object`, got `array`"),
    (lambda d: {**d, "description": [[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]}, "$.description"),
])
def test_hostile_alert_json_is_rejected_naming_the_field(alert_json, change, expected):
    assert decode_alert(json.dumps(alert_json))                        # the base is valid
    with pytest.raises(AlertError) as exc:
        decode_alert(json.dumps(change(alert_json)).replace("12345.678", "1e999"))
    assert expected in str(exc.value)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b'{"id": NaN}', b"null", b"[" * 100000])
def test_malformed_alert_json_is_rejected(raw):
    with pytest.raises(AlertError):
        decode_alert(raw)


# ------------------------------------------------------------------------------------------- the exercise rule


def test_derive_status_table():
    assert derive_status(False, "live") == "Actual"
    assert derive_status(False, "test") == "Test"
    assert derive_status(False, "exercise") == "Exercise"
    for mode in ("live", "test", "exercise"):
        assert derive_status(True, mode) == "Exercise"
    with pytest.raises(AlertInputError):
        derive_status(1, "live")
    with pytest.raises(ValueError, match="mode"):
        derive_status(False, "Actual")


def _all_paths(eng: AlertEngine, exercise: bool) -> list[Alert]:
    """Drive every path that emits a message: Alert, Update, and Cancel for each of the four reasons
    (track_lost by input and by lost(), stale, reclassified, below_threshold)."""
    out = []
    kw = {"exercise": exercise}
    out += eng.update(inp(1.0, object_id="a", land=0.5, **kw))
    out += eng.update(inp(2.0, object_id="a", land=0.5, eez=0.5, **kw))
    out += eng.update(inp(3.0, object_id="a", alive=False, **kw))
    out += eng.update(inp(1.0, object_id="b", overflight=0.5, **kw))
    out += eng.lost("b", 2.0)
    out += eng.update(inp(1.0, object_id="c", kind="unknown", land=0.5, **kw))
    out += eng.update(inp(2.0, object_id="c", kind="stage", land=0.5, **kw))
    out += eng.update(inp(1.0, object_id="d", land=0.5, **kw))
    out += eng.update(inp(2.0, object_id="d", land=0.0, **kw))
    out += eng.update(inp(2.0 + eng.policy.release_hold_s, object_id="d", land=0.0, **kw))
    out += eng.update(inp(1.0, object_id="e", land=0.5, **kw))
    out += eng.tick(10.0)
    return out


@pytest.mark.parametrize("mode", ["live", "test", "exercise"])
def test_exercise_input_never_gives_actual_on_any_path(jpn, mode):
    eng = AlertEngine(jpn, mode=mode, epoch=EPOCH)
    out = roundtrip(_all_paths(eng, exercise=True))
    assert sorted({(m.msg_type, m.reason) for m in out}, key=str) == sorted({
        ("Alert", None), ("Update", None), ("Cancel", "track_lost"), ("Cancel", "reclassified"),
        ("Cancel", "below_threshold"), ("Cancel", "stale")}, key=str)
    assert len(out) == 11
    for m in out:
        assert m.status == "Exercise" and m.exercise is True and m.headline.startswith("EXERCISE")
        assert b"<status>Exercise</status>" in to_cap_xml(m, sender="warnlink.test")


@pytest.mark.parametrize(("mode", "status"), [("live", "Actual"), ("test", "Test"), ("exercise", "Exercise")])
def test_real_input_status_follows_node_mode(jpn, mode, status):
    out = roundtrip(_all_paths(AlertEngine(jpn, mode=mode, epoch=EPOCH), exercise=False))
    assert len(out) == 11 and {m.status for m in out} == {status}


def test_mixed_marking_for_one_object_is_refused(jpn):
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    eng.update(inp(1.0, exercise=True, land=0.5))
    with pytest.raises(AlertInputError, match="mixed markings"):
        eng.update(inp(2.0, exercise=False, land=0.9))
    assert eng.active()["L1/m1/warhead"].status == "Exercise"
    eng.lost("L1/m1/warhead", 3.0)
    with pytest.raises(AlertInputError, match="mixed markings"):           # also once the chain is closed
        eng.update(inp(4.0, exercise=False, land=0.9))


def test_struct_refuses_actual_exercise_on_construction_and_replace(jpn):
    eng = AlertEngine(jpn, mode="exercise", epoch=EPOCH)
    m = eng.update(inp(1.0, exercise=True, land=0.5))[0]
    with pytest.raises(ValueError, match="exercise alert"):
        msgspec.structs.replace(m, status="Actual")
    with pytest.raises(ValueError, match="status 'Exercise'"):
        msgspec.structs.replace(m, exercise=False)
    with pytest.raises(ValueError, match="exercise: must be true or false"):
        msgspec.structs.replace(m, exercise="no")


def test_engine_guard_catches_a_faulty_status_rule(jpn, monkeypatch):
    """Layer 2: even if the status rule were broken, the engine refuses to emit Actual for exercise data."""
    monkeypatch.setattr(policy_mod, "derive_status", lambda exercise, mode: "Actual")
    eng = AlertEngine(jpn, mode="live", epoch=EPOCH)
    with pytest.raises(RuntimeError, match="refusing"):
        eng.update(inp(1.0, exercise=True, land=0.5))


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a test extra
    st = None

if st is not None:
    _op = st.one_of(
        st.tuples(st.just("update"), st.sampled_from(["o1", "o2", "o3"]), st.floats(0.0, 3.0),
                  st.sampled_from(["warhead", "unknown", "stage", "debris"]), st.booleans(),
                  st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 120.0)),
        st.tuples(st.just("lost"), st.sampled_from(["o1", "o2", "o3"]), st.floats(0.0, 3.0)),
        st.tuples(st.just("tick"), st.floats(0.0, 6.0)),
    )

    @settings(max_examples=150, deadline=None)
    @given(mode=st.sampled_from(["live", "test", "exercise"]), ops=st.lists(_op, max_size=40))
    def test_randomised_exercise_input_never_gives_actual(mode, ops):
        eng = AlertEngine(immediate(load_policy("JPN")), mode=mode, epoch=EPOCH)
        t = 0.0
        out = []
        for op in ops:
            if op[0] == "update":
                _, oid, dt, kind, alive, land, eez, ovf, shift = op
                t += dt
                out += eng.update(inp(t, object_id=oid, kind=kind, alive=alive, exercise=True, land=land,
                                      eez=eez, overflight=ovf, impact_t=2000.0 + shift))
            elif op[0] == "lost":
                t += op[2]
                out += eng.lost(op[1], t)
            else:
                t += op[1]
                out += eng.tick(t)
        for m in roundtrip(out):
            assert m.status == "Exercise" and m.exercise
        # every chain is well formed: a Cancel or Update references exactly the earlier messages of its chain
        chains: dict[str, list[str]] = {}
        for m in out:
            if m.msg_type == "Alert":
                assert m.object_id not in chains
                chains[m.object_id] = [m.id]
            else:
                assert [r.id for r in m.references] == chains[m.object_id]
                chains[m.object_id].append(m.id)
                if m.msg_type == "Cancel":
                    del chains[m.object_id]
        assert set(chains) == set(eng.active())
else:  # pragma: no cover
    def test_randomised_exercise_input_never_gives_actual():
        pytest.skip("hypothesis is not installed (pip install 'hypothesis>=6.100')")
