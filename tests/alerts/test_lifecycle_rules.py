"""The alert engine's rules beyond the basic chain: the lower-bound rule shared by the replay and the national
node, the release hold (debounce against Alert/Cancel churn at a threshold), the absolute floor on ellipse
Updates, and a deferred Update sent by ``tick`` when no later assessment comes. Inputs are built by hand;
figures are NOTIONAL."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from warnlink.alerts import (
    STAGING_WATCH_S,
    AlertEngine,
    AssessmentInput,
    ImpactArea,
    decode_policies,
    is_lower_bound,
    load_policy,
)

EPOCH = datetime(2022, 10, 3, 22, 22, tzinfo=UTC)
EEZ = ImpactArea(lat_deg=40.5, lon_deg=139.0, semi_major_m=60e3, semi_minor_m=20e3, orientation_deg=80.0)
POLICY = """
version: 1
defaults:
  thresholds: {land: 0.05, eez: 0.2, overflight: 0.1}
  release_margin: 0.02
  release_hold_s: 10
  update: {probability: 0.1, impact_time_s: 30, impact_point_km: 50, ellipse_fraction: 0.5, ellipse_min_km: 20,
           min_interval_s: 20}
  staleness_s: 3
nations:
  JPN:
    regions: {land: [JPN_land], eez: [JPN_eez], overflight: [JPN_land]}
"""


@pytest.fixture
def eng() -> AlertEngine:
    return AlertEngine(decode_policies(POLICY)["JPN"], mode="test", epoch=EPOCH)


def inp(t, eez=0.0, overflight=0.0, *, kind="warhead", alive=True, impact=EEZ, over_t=(None, None), bound=False):
    return AssessmentInput(
        t_s=t, object_id="E/track1", event_id="E", kind=kind, track_alive=alive, exercise=False,
        impact_probability={"JPN_eez": eez}, overflight_probability={"JPN_land": overflight},
        overflight_start_s=over_t[0], overflight_end_s=over_t[1],
        impact_t_s=1500.0, impact=impact, lower_bound=bound)


def types(msgs):
    return [m.msg_type for m in msgs]


# ------------------------------------------------------------------------------------------------- lower bound


def test_the_lower_bound_rule():
    assert is_lower_bound(boosting=True, t_s=100.0, last_boost_s=100.0)
    assert is_lower_bound(boosting=False, t_s=100.0, last_boost_s=100.0 - STAGING_WATCH_S + 0.5)
    assert not is_lower_bound(boosting=False, t_s=100.0, last_boost_s=100.0 - STAGING_WATCH_S)
    assert not is_lower_bound(boosting=False, t_s=100.0, last_boost_s=None)
    assert is_lower_bound(boosting=False, t_s=100.0, last_boost_s=None, separation_undecided=True)
    assert not is_lower_bound(boosting=True, climbing=False, t_s=100.0, last_boost_s=None)  # re-entry drag


def test_a_lower_bound_input_never_yields_an_impact_alert(eng):
    """Certain impact in the EEZ, from a lower bound: nothing; from the same prediction once it is no bound: an
    impact Alert. A lower bound's overflight counts only where the mean path crosses (overflight times)."""
    out = []
    for t in range(100, 130):
        out += eng.update(inp(float(t), eez=0.97, overflight=0.6, bound=True))  # the mean path misses the land
    assert out == []
    m = eng.update(inp(130.0, eez=0.97, overflight=0.6, over_t=(200.0, 260.0), bound=True))
    assert types(m) == ["Alert"] and m[0].regions == () and m[0].overflight_regions == ("JPN_land",)
    assert m[0].impact is None and m[0].impact_time is None and m[0].probability == 0.0
    assert "impact" not in m[0].headline
    m = eng.update(inp(131.0, eez=0.97, overflight=0.6, over_t=(200.0, 260.0)))  # no longer a bound: news at once
    assert types(m) == ["Update"] and m[0].regions == ("JPN_eez",) and m[0].impact == EEZ


def test_a_chain_whose_object_resumes_boosting_drops_its_impact_region(eng):
    assert types(eng.update(inp(0.0, eez=0.9))) == ["Alert"]
    assert eng.update(inp(1.0, eez=0.9, bound=True)) == []           # held (release_hold_s) ...
    c = eng.update(inp(11.0, eez=0.9, bound=True))                   # ... then released: no basis for an impact
    assert types(c) == ["Cancel"] and c[0].reason == "below_threshold"


# ------------------------------------------------------------------------------------- confirmation, ellipse limit


def test_a_region_is_alerted_once_confirmed_and_a_blip_never(eng):
    """2017-05-14: a re-acquired track's first predictions gave P(JPN_eez)=0.29 for 2 s (Alert, then Cancel)."""
    e = AlertEngine(msgspec.structs.replace(eng.policy, confirm_s=3.0), mode="test", epoch=EPOCH)
    assert e.update(inp(0.0, eez=0.29)) == [] and e.update(inp(1.0, eez=0.29)) == []
    assert e.update(inp(2.0, eez=0.05)) == []                         # the blip is over: never alerted
    for t in (3.0, 4.0, 5.0):
        assert e.update(inp(t, eez=0.3)) == []
    assert types(e.update(inp(6.0, eez=0.3))) == ["Alert"]            # above the threshold for 3 s
    m = e.update(inp(7.0, eez=0.3, overflight=0.5))                   # an overflight joins at once
    assert types(m) == ["Update"] and m[0].overflight_regions == ("JPN_land",)


def test_an_ellipse_too_long_to_locate_the_impact_warns_of_nothing_but_overflight(eng):
    """2025-05-08 and 2025-01-06: 95% ellipses of 682 and 905 km semi-major axis along the track crossed Japan's
    EEZ and land (P = 0.84, 0.28) for 200 s while the impact was outside."""
    e = AlertEngine(msgspec.structs.replace(eng.policy, impact_max_semi_major_km=185.0), mode="test", epoch=EPOCH)
    line = msgspec.structs.replace(EEZ, semi_major_m=682e3, semi_minor_m=2.5e3)
    assert e.update(inp(0.0, eez=0.84, impact=line)) == []
    m = e.update(inp(1.0, eez=0.84, overflight=0.5, impact=line))
    assert types(m) == ["Alert"] and m[0].regions == () and m[0].overflight_regions == ("JPN_land",)
    m = e.update(inp(2.0, eez=0.84, overflight=0.5, impact=msgspec.structs.replace(line, semi_major_m=180e3)))
    assert types(m) == ["Update"] and m[0].regions == ("JPN_eez",)  # located: the impact warning joins


# ------------------------------------------------------------------------------------------------ release hold


def test_a_dip_below_the_release_level_within_the_hold_changes_nothing(eng):
    """2022-11-03: the EEZ probability hovering about the threshold opened 7 chains; with the hold one chain
    stands through the dips, and a lasting fall cancels it once the hold has passed."""
    assert types(eng.update(inp(0.0, eez=0.3))) == ["Alert"]
    out = []
    for k in range(1, 40):
        out += eng.update(inp(float(k), eez=0.1 if k % 6 < 3 else 0.3))  # 3 s below, 3 s above, repeatedly
    assert out == []
    hold = eng.policy.release_hold_s
    for t in (40.0, 40.0 + hold - 1.0):
        assert eng.update(inp(t, eez=0.05)) == []
    c = eng.update(inp(40.0 + hold, eez=0.05))
    assert types(c) == ["Cancel"] and c[0].reason == "below_threshold"


def test_the_hold_never_delays_a_cancel_for_a_lost_track_or_a_stage(eng):
    """The basis gone (track lost, object found to be a separated stage): cancelled at once, hold or not."""
    eng.update(inp(0.0, eez=0.3))
    eng.update(inp(1.0, eez=0.05))                                   # in its release hold
    c = eng.update(inp(2.0, eez=0.05, kind="stage"))
    assert types(c) == ["Cancel"] and c[0].reason == "reclassified" and c[0].sent == c[0].valid_at
    eng.update(inp(3.0, eez=0.3))
    eng.update(inp(4.0, eez=0.05))
    c = eng.lost("E/track1", 4.5)
    assert types(c) == ["Cancel"] and c[0].reason == "track_lost"


def test_a_region_joining_during_a_hold_is_sent_at_once(eng):
    eng.update(inp(0.0, eez=0.3))
    eng.update(inp(1.0, eez=0.05))
    m = eng.update(inp(2.0, eez=0.05, overflight=0.5))
    assert types(m) == ["Update"] and m[0].overflight_regions == ("JPN_land",) and m[0].regions == ("JPN_eez",)


# ---------------------------------------------------------------------------------------------------- updates


def test_an_ellipse_update_needs_an_absolute_change_as_well(eng):
    """A young track's ellipse halving from 8 to 4 km is no news; from 100 to 40 km it is."""
    small = msgspec.structs.replace(EEZ, semi_major_m=8e3, semi_minor_m=4e3)
    eng.update(inp(0.0, eez=0.9, impact=small))
    half = msgspec.structs.replace(small, semi_major_m=4e3, semi_minor_m=2e3)
    assert eng.update(inp(30.0, eez=0.9, impact=half)) == []
    big = msgspec.structs.replace(EEZ, semi_major_m=100e3, semi_minor_m=20e3)
    assert types(eng.update(inp(60.0, eez=0.9, impact=big))) == ["Update"]
    m = eng.update(inp(90.0, eez=0.9, impact=msgspec.structs.replace(big, semi_major_m=40e3)))
    assert types(m) == ["Update"] and eng.stats["update_reasons"]["ellipse"] == 2


def test_a_deferred_update_is_sent_by_tick_when_the_interval_ends(eng):
    """The change arrives inside the 20 s interval; the assessments after it (to 18 s) fall inside it too,
    the next one only at 30 s: ``tick`` sends the Update at 20 s, content and valid time of the latest."""
    a = eng.update(inp(0.0, eez=0.3))
    for t in range(5, 19):                                           # +0.4 inside the interval: deferred
        assert eng.update(inp(float(t), eez=0.7)) == [] and eng.tick(float(t)) == []
    assert eng.tick(19.9) == []
    u = eng.tick(20.0)                                               # the interval has ended: sent now
    assert types(u) == ["Update"] and u[0].probability == pytest.approx(0.7)
    assert u[0].valid_at == eng._time(18.0) and u[0].sent == eng._time(20.0)
    assert [r.id for r in u[0].references] == [a[0].id]
    assert eng.tick(20.5) == [] and eng.update(inp(21.0, eez=0.7)) == []  # sent once


def test_a_deferred_update_that_reverted_is_never_sent(eng):
    eng.update(inp(0.0, eez=0.3))
    assert eng.update(inp(5.0, eez=0.7)) == []
    assert eng.update(inp(6.0, eez=0.32)) == []                      # back inside the band: nothing to tell
    assert eng.update(inp(8.0, eez=0.32)) == []
    assert eng.tick(10.0) == [] and eng.stats["Update"] == 0


def test_the_packaged_policy_sets_the_hold_the_floor_the_confirmation_and_the_ellipse_limit():
    p = load_policy("JPN")
    assert 0.0 < p.release_hold_s <= 60.0 and p.update.ellipse_min_km > 0.0
    assert 0.0 < p.confirm_s <= 5.0 and p.impact_max_semi_major_km == pytest.approx(370.0)  # 200 nmi
    with pytest.raises(Exception, match="release_hold_s"):
        decode_policies(POLICY.replace("release_hold_s: 10", "release_hold_s: -1"))


# ----------------------------------------------------------------------------------- a silent chain's threat over


@pytest.mark.parametrize("warned", ["overflight", "impact", "overflight from a lower bound"])
def test_a_silent_chain_is_stale_only_while_its_threat_is_pending(warned):
    """A chain with no update for ``staleness_s`` is cancelled "stale" while what it warned of is still ahead;
    noticed only after its overflight (or its impact) has passed, when a node's clock jumped over a gap in its
    data (the 2022-10-04 demo at 80x under load), it ends as an update then would have ended it: "below
    threshold". A lower bound's overflight times are no end: a missile still burning flies further."""
    def chain():
        e = AlertEngine(decode_policies(POLICY)["JPN"], mode="test", epoch=EPOCH)
        if warned == "impact":
            first = e.update(inp(150.0, eez=0.7))
        else:
            first = e.update(inp(150.0, overflight=1.0, over_t=(200.0, 260.0), bound="bound" in warned))
        assert types(first) == ["Alert"]
        return e

    end = 1500.0 if warned == "impact" else 260.0  # the impact time of ``inp``, or the overflight's end
    for t, reason in ((153.0, "stale"), (end - 1.0, "stale"),
                      (end + 1.0, "stale" if "bound" in warned else "below_threshold")):
        out = chain().tick(t)
        assert [(m.msg_type, m.reason) for m in out] == [("Cancel", reason)], (warned, t)
