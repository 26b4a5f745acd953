"""Releasability policy, subject scheme and the sensor-identity scrubber."""

from __future__ import annotations

import itertools

import msgspec
import pytest
import yaml

from warnlink.sharing import releasability as r
from warnlink.sharing.messages import KINDS, NATIONS, SensorReport, Track

WARNING_KINDS = ("launch", "assessment", "alert")


def default_table() -> dict:
    return yaml.safe_load(r.default_policy_path().read_text())


def write_policy(tmp_path, data) -> str:
    p = tmp_path / "policy.yaml"
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return str(p)


# ---------------------------------------------------------------------------------------------- default policy
def test_default_policy_is_the_real_mechanism():
    pol = r.default_policy()
    for origin in NATIONS:
        assert pol.receivers(origin, "report") == frozenset()  # sensor reports never leave
        others = frozenset(NATIONS) - {origin}
        for kind in WARNING_KINDS:
            assert pol.receivers(origin, kind) == others  # warning data to all
    assert pol.receivers("KOR", "track") == {"USA"}  # ally tracks to the US only
    assert pol.receivers("JPN", "track") == {"USA"}
    assert pol.receivers("USA", "track") == {"KOR", "JPN"}
    assert pol.hub == "USA"
    # no sensor report is releasable to anyone but its own nation
    for origin, nation in itertools.product(NATIONS, NATIONS):
        assert r.may_receive(nation, r.subject_for(origin, "report")) == (nation == origin)


def test_agreed_subjects():
    assert r.subject_for("KOR", "report") == "wl.KOR.local.report"
    assert r.subject_for("KOR", "track") == "wl.KOR.USA.track"
    assert r.subject_for("JPN", "track") == "wl.JPN.USA.track"
    for kind in WARNING_KINDS:
        assert r.subject_for("KOR", kind) == f"wl.KOR.JPN-USA.{kind}"
        assert r.subject_for("JPN", kind) == f"wl.JPN.KOR-USA.{kind}"
        assert r.subject_for("USA", kind) == f"wl.USA.JPN-KOR.{kind}"
    assert r.subject_for("USA", "track") == "wl.USA.JPN-KOR.track"
    assert r.subject_for("KOR", "track", "T-17") == "wl.KOR.USA.track.T-17"
    assert r.subject_for("KOR", "launch", release={"USA"}) == "wl.KOR.USA.launch"  # narrower is allowed
    with pytest.raises(r.ReleaseError, match="may go to USA only"):
        r.subject_for("KOR", "track", release={"USA", "JPN"})
    with pytest.raises(ValueError, match="id token"):
        r.subject_for("KOR", "track", "a.b")
    with pytest.raises(ValueError, match="unknown origin"):
        r.subject_for("PRK", "track")
    with pytest.raises(ValueError, match="unknown message kind"):
        r.subject_for("KOR", "gossip")


def test_may_receive_matrix_follows_the_policy():
    pol = r.default_policy()
    for origin, kind, nation in itertools.product(NATIONS, KINDS, NATIONS):
        for sid in (None, "obj-1"):
            subject = pol.subject_for(origin, kind, sid)
            expected = nation == origin or nation in pol.receivers(origin, kind)
            assert pol.may_receive(nation, subject) is expected, (origin, kind, nation)
    # a subject claiming a wider release than the policy is refused to everyone but the origin
    assert not r.may_receive("JPN", "wl.KOR.JPN-USA.track")
    assert not r.may_receive("USA", "wl.KOR.JPN-USA.track")
    assert not r.may_receive("USA", "wl.KOR.USA.report")
    assert not r.may_receive("USA", "garbage")


# ---------------------------------------------------------------------------------------------- subjects
def test_parse_subject_round_trip():
    for origin, kind in itertools.product(NATIONS, KINDS):
        for sid in (None, "0190-ab_C"):
            s = r.parse_subject(r.subject_for(origin, kind, sid))
            assert (s.origin, s.kind, s.id) == (origin, kind, sid)
            assert s.release == r.receivers(origin, kind)
            assert r.subject_for(origin, kind, sid) == ".".join(
                ["wl", origin, s.release_token, kind] + ([sid] if sid else []))


@pytest.mark.parametrize(
    "subject, match",
    [
        ("xx.KOR.USA.track", "not of the form"),
        ("wl.KOR.USA", "not of the form"),
        ("wl.KOR.USA.track.a.b", "not of the form"),
        ("wl.PRK.USA.track", "unknown origin"),
        ("wl.KOR.USA.gossip", "unknown kind"),
        ("wl.KOR.USA-JPN.launch", "not canonical"),
        ("wl.KOR.JPN-JPN.launch", "not canonical"),
        ("wl.KOR.KOR-USA.launch", "names the origin"),
        ("wl.KOR.PRK.launch", "unknown nation"),
        ("wl.KOR.*.launch", "unknown nation"),
        ("wl.KOR.USA.track.>", "id token"),
        ("wl.KOR.USA.track." + "x" * 65, "id token"),
        ("wl.KOR.USA.track.", "id token"),
    ],
)
def test_parse_subject_rejects(subject, match):
    with pytest.raises(r.SubjectError, match=match):
        r.parse_subject(subject)


def test_filters_for_permissions_and_consumers():
    pol = r.default_policy()
    jpn = pol.receive_filters("JPN")
    assert "wl.KOR.JPN-USA.launch" in jpn and "wl.KOR.JPN-USA.launch.*" in jpn
    assert "wl.USA.JPN-KOR.track" in jpn
    assert not any(f.startswith("wl.KOR.USA.track") for f in jpn)
    assert not any(f.startswith("wl.JPN.") for f in jpn)
    assert not any(".report" in f for n in NATIONS for f in pol.receive_filters(n))
    usa = pol.receive_filters("USA")
    assert "wl.KOR.USA.track" in usa and "wl.JPN.USA.track" in usa
    assert set(pol.publish_subjects("KOR")) == {s for k in KINDS for s in (pol.subject_for("KOR", k),
                                                                            pol.subject_for("KOR", k) + ".*")}
    assert pol.table()["KOR"]["track"] == ["USA"]


# ---------------------------------------------------------------------------------------------- loading
def test_load_default_file_and_a_narrower_policy(tmp_path):
    data = default_table()
    data["release"]["KOR"]["launch"] = ["USA"]
    pol = r.Policy.load(write_policy(tmp_path, data))
    assert pol.receivers("KOR", "launch") == {"USA"}
    assert pol.subject_for("KOR", "launch") == "wl.KOR.USA.launch"
    assert not pol.may_receive("JPN", "wl.KOR.JPN-USA.launch")  # wider than this policy


def _bad(data_edit):
    data = default_table()
    data_edit(data)
    return data


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d.update(extra=1), r"extra: unknown key"),
        (lambda d: d.pop("hub"), r"hub: missing"),
        (lambda d: d.update(version=2), r"version: unsupported"),
        (lambda d: d.update(hub="PRK"), r"hub: unknown nation"),
        (lambda d: d["release"].update(PRK={}), r"release\.PRK: unknown nation"),
        (lambda d: d["release"].pop("JPN"), r"release\.JPN: missing"),
        (lambda d: d["release"]["KOR"].pop("alert"), r"release\.KOR\.alert: missing"),
        (lambda d: d["release"]["KOR"].update(gossip=[]), r"release\.KOR\.gossip: unknown kind"),
        (lambda d: d["release"]["KOR"].update(track=["USA", "JAP"]), r"release\.KOR\.track\[1\]: unknown nation 'JAP'"),
        (lambda d: d["release"]["KOR"].update(track=["KOR"]), r"track\[0\]: KOR cannot release to itself"),
        (lambda d: d["release"]["KOR"].update(track=["USA", "USA"]), r"release\.KOR\.track: nation listed twice"),
        (lambda d: d["release"]["JPN"].update(report=["USA"]), r"release\.JPN\.report: sensor reports never leave"),
        (lambda d: d["release"]["KOR"].update(launch=["JPN"]), r"release\.KOR\.launch: .*must include the hub USA"),
        (lambda d: d["release"]["KOR"].update(launch="USA"), r"release\.KOR\.launch: expected a list"),
        (lambda d: d.update(release=[]), r"release: expected a mapping"),
    ],
)
def test_load_errors_name_the_bad_key(tmp_path, edit, match):
    path = write_policy(tmp_path, _bad(edit))
    with pytest.raises(r.PolicyError, match=match) as info:
        r.Policy.load(path)
    assert path in str(info.value)


def test_load_errors_for_files(tmp_path):
    with pytest.raises(r.PolicyError, match="cannot read"):
        r.Policy.load(tmp_path / "missing.yaml")
    with pytest.raises(r.PolicyError, match="not valid YAML"):
        r.Policy.load(write_policy(tmp_path, "release: [unclosed"))
    with pytest.raises(r.PolicyError, match="expected a mapping"):
        r.Policy.load(write_policy(tmp_path, "- a list"))


# ---------------------------------------------------------------------------------------------- scrubber
class _Detection(msgspec.Struct):
    sensor_pos_ecef_m: tuple[float, float, float]


class _LeakyTrack(msgspec.Struct, tag="leaky", tag_field="type"):
    id: str
    hits: list[_Detection]


class _FreeForm(msgspec.Struct, tag="free", tag_field="type"):
    extra: dict[str, float]


def test_sensor_identity_fields_found_by_name():
    assert r.sensor_identity_fields(Track) == ()
    assert r.sensor_identity_fields(_LeakyTrack) == ("$.hits[].sensor_pos_ecef_m",)
    assert r.sensor_identity_fields(_FreeForm) == ("$.extra.<dict keys>",)


def test_check_no_sensor_identity():
    track = Track(id="T1", origin="KOR", time=1.7e9, state=(1e6, 2e6, 3e6, 1.0, 2.0, 3.0),
                  cov=(1.0, 0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 1.0, 0, 0, 0, 1.0, 0, 0, 1.0, 0, 1.0),
                  status="confirmed", phase="midcourse", exercise=False)
    r.check_no_sensor_identity(track)  # a track carries no sensor identity
    report = SensorReport(id="R1", nation="KOR", sensor_id="KOR-GP-1", sensor_kind="ir", time=1.7e9,
                          measurement=(0.1, 0.2), cov=(1e-8, 0.0, 1e-8), sensor_pos_ecef_m=(0.0, 0.0, 4.2e7),
                          exercise=False)
    with pytest.raises(r.ReleaseError, match="sensor reports never leave"):
        r.check_no_sensor_identity(report)
    assert "$.sensor_id" in r.sensor_identity_fields(SensorReport)
    assert "$.sensor_pos_ecef_m" in r.sensor_identity_fields(SensorReport)
    with pytest.raises(TypeError, match="not a registered message type"):
        r.check_no_sensor_identity(_LeakyTrack(id="x", hits=[]))
