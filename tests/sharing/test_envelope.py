"""Signed envelope: sealing, verification, every rejection reason, replay windows, keys, hostile input."""

from __future__ import annotations

import math
import os
import random
import stat

import msgspec
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from warnlink.sharing import envelope as e
from warnlink.sharing.envelope import Envelope, KeyRing, Reason, Rejected, Sealer, Verifier
from warnlink.sharing.ids import uuid7
from warnlink.sharing.messages import (
    Assessment,
    Ellipse,
    GeoPoint,
    LaunchEvent,
    SensorReport,
    Track,
    encode_payload,
    payload_types,
)
from warnlink.sharing.releasability import ReleaseError, default_policy

T0 = 1_702_944_000.0


# ---------------------------------------------------------------------------------------------- helpers
def track(origin="KOR", exercise=True, **kw) -> Track:
    P = np.diag([150.0, 120.0, 200.0, 3.0, 2.0, 4.0]) ** 2
    base = dict(id=uuid7(), origin=origin, time=T0 + 10.0, x=[-3.1e6, 4.0e6, 3.9e6, 1200.0, -800.0, 2500.0], P=P,
                status="confirmed", phase="midcourse", exercise=exercise)
    base.update(kw)
    return Track.from_arrays(**base)


def launch(origin="KOR", exercise=False) -> LaunchEvent:
    return LaunchEvent(id=uuid7(), event_id=uuid7(), origin=origin, time=T0 + 40.0, first_detection=T0 + 25.0,
                       launch_point=GeoPoint(lat_deg=39.2, lon_deg=125.67), launch_time=T0,
                       launch_point_cov_enu_m2=(4e6, 0.0, 0.0, 4e6, 0.0, 1e4), launch_time_sigma_s=3.0,
                       exercise=exercise)


def assessment(origin="JPN", exercise=False) -> Assessment:
    return Assessment(id=uuid7(), event_id=uuid7(), object_id=uuid7(), origin=origin, time=T0 + 90.0,
                      launch_point=GeoPoint(lat_deg=39.2, lon_deg=125.67), launch_time=T0,
                      impact_point=GeoPoint(lat_deg=41.49, lon_deg=136.97), impact_time=T0 + 1380.0,
                      impact_ellipse=Ellipse(semi_major_m=25e3, semi_minor_m=8e3, orientation_deg=80.0),
                      apogee_m=1e6, range_m=4.6e6, missile_class="IRBM", object_kind="warhead", confidence=0.8,
                      exercise=exercise)


def report(nation="KOR") -> SensorReport:
    return SensorReport(id=uuid7(), nation=nation, sensor_id=f"{nation}-R1", sensor_kind="radar", time=T0 + 5.0,
                        measurement=(350e3, 1.2, 0.3, -1500.0),
                        cov=(2500.0, 0, 0, 0, 1e-6, 0, 0, 1e-6, 0, 25.0), sensor_pos_ecef_m=(-3e6, 4.1e6, 3.7e6),
                        exercise=True)


@pytest.fixture(scope="module")
def rings() -> dict[str, KeyRing]:
    """One key ring per nation, each trusting the others' public keys (exchanged as PEM)."""
    rings = {n: KeyRing.generate(n) for n in ("KOR", "JPN", "USA")}
    for a in rings.values():
        for b in rings.values():
            if a is not b:
                a.trust(b.node_id, b.public_pem())
    return rings


def verifier(rings, nation, **kw) -> Verifier:
    return Verifier(rings[nation], nation, **kw)


def decode_env(data: bytes) -> Envelope:
    return msgspec.msgpack.decode(data, type=Envelope)


def resign(data: bytes, ring: KeyRing, **fields) -> bytes:
    """Change envelope fields and sign again with ``ring`` (what a buggy or compromised origin could send)."""
    env = msgspec.structs.replace(decode_env(data), **fields)
    env = msgspec.structs.replace(env, signature=ring.sign(env.signing_bytes()))
    return msgspec.msgpack.encode(env)


def reject_reason(v: Verifier, subject, data) -> tuple[Reason, str]:
    with pytest.raises(Rejected) as info:
        v.open(subject, data)
    return info.value.reason, info.value.detail


# ---------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("make, origin, receivers", [
    (track, "KOR", ["USA"]),
    (track, "USA", ["KOR", "JPN"]),
    (launch, "KOR", ["USA", "JPN"]),
    (assessment, "JPN", ["USA", "KOR"]),
])
def test_round_trip_to_every_receiver(rings, make, origin, receivers):
    msg = make(origin=origin)
    sealed = Sealer(rings[origin]).seal(msg)
    assert sealed.subject == default_policy().subject_for(origin, sealed.kind)
    for nation in receivers:
        env, payload = verifier(rings, nation).open(sealed.subject, sealed.data)
        assert payload == msg
        assert (env.origin, env.kind, env.msg_id, env.seq) == (origin, sealed.kind, sealed.msg_id, sealed.seq)
        assert env.release_set == default_policy().receivers(origin, sealed.kind)
        assert env.exercise == msg.exercise and env.valid_time == msg.time
        assert env.key_id == rings[origin].key_id


def test_local_report_opens_only_at_home(rings):
    sealed = Sealer(rings["KOR"]).seal(report())
    assert sealed.subject == "wl.KOR.local.report"
    env, payload = verifier(rings, "KOR").open(sealed.subject, sealed.data)
    assert env.release == () and payload.sensor_id == "KOR-R1"
    for nation in ("USA", "JPN"):
        assert reject_reason(verifier(rings, nation), sealed.subject, sealed.data)[0] == Reason.NOT_RELEASABLE


def test_kor_track_not_releasable_to_japan(rings):
    sealed = Sealer(rings["KOR"]).seal(track())
    reason, detail = reject_reason(verifier(rings, "JPN"), sealed.subject, sealed.data)
    assert reason == Reason.NOT_RELEASABLE and "JPN" in detail


def test_alert_round_trip_when_the_alert_model_exists(rings):
    model = pytest.importorskip("warnlink.alerts.model")
    from datetime import UTC, datetime

    assert payload_types()["alert"] is model.Alert
    now = datetime.fromtimestamp(T0 + 100.0, UTC)
    alert = model.Alert(id=uuid7(), nation="JPN", status="Exercise", msg_type="Alert", sent=now, valid_at=now,
                        event_id=uuid7(), object_id=uuid7(), object_kind="warhead", regions=("JPN_land",),
                        probability=0.9, headline="EXERCISE missile warning", exercise=True)
    sealed = Sealer(rings["JPN"]).seal(alert)
    assert sealed.subject == "wl.JPN.KOR-USA.alert"
    env, payload = verifier(rings, "KOR").open(sealed.subject, sealed.data)
    assert payload == alert and env.exercise is True and env.valid_time == T0 + 100.0


def test_narrower_release_and_subject_id(rings):
    msg = launch()
    sealed = Sealer(rings["KOR"]).seal(msg, release={"USA"}, subject_id=msg.event_id)
    assert sealed.subject == f"wl.KOR.USA.launch.{msg.event_id}"
    assert verifier(rings, "USA").open(sealed.subject, sealed.data)[1] == msg
    assert reject_reason(verifier(rings, "JPN"), sealed.subject, sealed.data)[0] == Reason.NOT_RELEASABLE


# ---------------------------------------------------------------------------------------------- rejections
def test_forged_signature(rings):
    sealed = Sealer(rings["KOR"]).seal(track())
    env = decode_env(sealed.data)
    flipped = bytearray(env.signature)
    flipped[5] ^= 0x01
    bad = msgspec.msgpack.encode(msgspec.structs.replace(env, signature=bytes(flipped)))
    assert reject_reason(verifier(rings, "USA"), sealed.subject, bad)[0] == Reason.BAD_SIGNATURE
    # payload changed after signing (the signature is kept)
    other = encode_payload(track(origin="KOR"))
    bad = msgspec.msgpack.encode(msgspec.structs.replace(env, payload=other))
    assert reject_reason(verifier(rings, "USA"), sealed.subject, bad)[0] == Reason.BAD_SIGNATURE
    # a flag flipped after signing
    bad = msgspec.msgpack.encode(msgspec.structs.replace(env, exercise=not env.exercise))
    assert reject_reason(verifier(rings, "USA"), sealed.subject, bad)[0] == Reason.BAD_SIGNATURE


def test_non_canonical_wire_form_fails_the_signature(rings):
    sealed = Sealer(rings["KOR"]).seal(track())
    fields = list(msgspec.msgpack.decode(sealed.data))
    fields[4] = int(fields[4])  # sent_time as an integer: decodes to the same kind of value, other bytes
    assert fields[4] != msgspec.msgpack.decode(sealed.data)[4]
    bad = msgspec.msgpack.encode(fields)
    assert reject_reason(verifier(rings, "USA"), sealed.subject, bad)[0] == Reason.BAD_SIGNATURE
    env = decode_env(sealed.data)
    assert env.signing_bytes().startswith(e.DOMAIN)
    assert env.signing_bytes() == decode_env(msgspec.msgpack.encode(env)).signing_bytes()


def test_unknown_signer(rings):
    intruder = KeyRing.generate("KOR")  # a KOR key nobody trusts
    sealed = Sealer(intruder).seal(track())
    reason, detail = reject_reason(verifier(rings, "USA"), sealed.subject, sealed.data)
    assert reason == Reason.UNKNOWN_SIGNER and intruder.key_id in detail
    # a trusted key of another node cannot sign for KOR
    genuine = Sealer(rings["KOR"]).seal(track())
    forged = resign(genuine.data, rings["JPN"], key_id=rings["JPN"].key_id)
    reason, detail = reject_reason(verifier(rings, "USA"), genuine.subject, forged)
    assert reason == Reason.UNKNOWN_SIGNER and "belongs to JPN" in detail
    # revocation
    ring = KeyRing.generate("USA")
    ring.trust("KOR", rings["KOR"].public_pem())
    ring.untrust(rings["KOR"].key_id)
    assert reject_reason(Verifier(ring, "USA"), genuine.subject, genuine.data)[0] == Reason.UNKNOWN_SIGNER


def test_replayed_id_and_sequences(rings):
    s = Sealer(rings["KOR"], start_seq=100)
    v = verifier(rings, "USA", window=8)
    first = s.seal(track())
    v.open(first.subject, first.data)
    reason, detail = reject_reason(v, first.subject, first.data)  # the exact copy
    assert reason == Reason.REPLAYED_ID and first.msg_id in detail
    # a new id with a sequence number already used
    again = e.seal_message(track(), keyring=rings["KOR"], seq=first.seq)
    reason, detail = reject_reason(v, again.subject, again.data)
    assert reason == Reason.OLD_SEQUENCE and "already used" in detail
    # reordering within the window is accepted; below the window is not
    later = [s.seal(track()) for _ in range(10)]  # seqs 101..110
    for msg in (later[9], later[3], later[5]):
        v.open(msg.subject, msg.data)
    reason, detail = reject_reason(v, later[0].subject, later[0].data)  # seq 101 <= 110 - 8
    assert reason == Reason.OLD_SEQUENCE and "older than the replay window" in detail
    v.open(later[2].subject, later[2].data)  # seq 103 > 102: still inside
    # streams are per (origin, kind): a launch with a low seq is fine
    lo = e.seal_message(launch(), keyring=rings["KOR"], seq=1)
    v.open(lo.subject, lo.data)


def test_replay_memory_is_bounded_and_exact_copies_stay_rejected(rings):
    s = Sealer(rings["KOR"])
    v = verifier(rings, "USA", window=16)
    msgs = [s.seal(track()) for _ in range(100)]
    for msg in msgs:
        v.open(msg.subject, msg.data)
    st = v._streams[("KOR", "track")]
    assert len(st.seen) <= 16 and len(st.heap) <= 16 and len(v._ids["KOR"]) <= 16
    for msg in msgs:  # every copy is refused, whether its id is still remembered or not
        assert reject_reason(v, msg.subject, msg.data)[0] in (Reason.REPLAYED_ID, Reason.OLD_SEQUENCE)
    assert v.counts["accepted"] == 100 and v.counts["old_sequence"] + v.counts["replayed_id"] == 100


def test_replay_state_survives_a_restart(rings):
    s = Sealer(rings["KOR"])
    v = verifier(rings, "USA")
    msgs = [s.seal(track()) for _ in range(5)]
    for msg in msgs:
        v.open(msg.subject, msg.data)
    fresh = verifier(rings, "USA")
    fresh.load_state(msgspec.json.decode(msgspec.json.encode(v.state())))
    assert reject_reason(fresh, msgs[2].subject, msgs[2].data)[0] == Reason.REPLAYED_ID
    nxt = s.seal(track())
    fresh.open(nxt.subject, nxt.data)


def test_mislabelled_copy_does_not_block_the_genuine_message(rings):
    sealed = Sealer(rings["KOR"]).seal(launch())
    v = verifier(rings, "USA")
    reason, detail = reject_reason(v, "wl.KOR.USA.launch", sealed.data)
    assert reason == Reason.MISLABELLED and "sealed for" in detail
    v.open(sealed.subject, sealed.data)


@pytest.mark.parametrize("fields, match", [
    (dict(subject="wl.JPN.KOR-USA.launch"), "subject origin JPN"),
    (dict(subject="wl.KOR.JPN-USA.track"), "subject kind track"),
    (dict(subject="wl.KOR.USA.launch"), "subject releases to USA but envelope to JPN-USA"),
    (dict(release=("USA", "JPN")), "releases to JPN-USA but envelope to USA-JPN"),
    (dict(subject="wl.KOR.USA-JPN.launch"), "not canonical"),
    (dict(subject="not.a.subject"), "not of the form"),
    (dict(kind="track", subject="wl.KOR.USA.track", release=("USA",)),
     "payload is a launch message but the envelope says track"),
    (dict(valid_time=T0), "valid_time"),
])
def test_mislabelled(rings, fields, match):
    sealed = Sealer(rings["KOR"]).seal(launch())
    forged = resign(sealed.data, rings["KOR"], **fields)
    subject = fields.get("subject", sealed.subject)
    reason, detail = reject_reason(verifier(rings, "USA"), subject, forged)
    assert reason == Reason.MISLABELLED
    assert match in detail


def test_mislabelled_release_beyond_policy_and_origin(rings):
    sealed = Sealer(rings["KOR"]).seal(track())
    forged = resign(sealed.data, rings["KOR"], subject="wl.KOR.JPN-USA.track", release=("JPN", "USA"))
    for nation in ("USA", "JPN"):  # re-checked at the hub and at the ally
        reason, detail = reject_reason(verifier(rings, nation), "wl.KOR.JPN-USA.track", forged)
        assert reason == Reason.MISLABELLED and "under the policy" in detail
    forged = resign(sealed.data, rings["KOR"], payload=encode_payload(track(origin="JPN")))
    reason, detail = reject_reason(verifier(rings, "USA"), sealed.subject, forged)
    assert reason == Reason.MISLABELLED and "payload origin JPN" in detail


def test_exercise_mismatch(rings):
    sealed = Sealer(rings["KOR"]).seal(track(exercise=True))
    forged = resign(sealed.data, rings["KOR"], exercise=False)
    reason, detail = reject_reason(verifier(rings, "USA"), sealed.subject, forged)
    assert reason == Reason.EXERCISE_MISMATCH and "exercise=False" in detail
    sealed = Sealer(rings["KOR"]).seal(launch(exercise=False))
    forged = resign(sealed.data, rings["KOR"], exercise=True)
    assert reject_reason(verifier(rings, "JPN"), sealed.subject, forged)[0] == Reason.EXERCISE_MISMATCH


def test_garbage_oversized_and_wrong_types(rings):
    v = verifier(rings, "USA")
    subject = "wl.KOR.USA.track"
    assert reject_reason(v, subject, b"")[0] == Reason.UNDECODABLE
    assert reject_reason(v, subject, b"\x00\xff garbage")[0] == Reason.UNDECODABLE
    assert reject_reason(v, subject, "a string")[0] == Reason.UNDECODABLE
    assert reject_reason(v, subject, b"\x91" * 20)[0] == Reason.UNDECODABLE  # deep nesting
    assert reject_reason(v, subject, b"\x00" * (e.MAX_MESSAGE_BYTES + 1))[0] == Reason.OVERSIZED
    small = verifier(rings, "USA", max_bytes=200)
    sealed = Sealer(rings["KOR"]).seal(track())
    assert reject_reason(small, sealed.subject, sealed.data)[0] == Reason.OVERSIZED
    fields = list(msgspec.msgpack.decode(sealed.data))
    for i, name, value in [(3, "seq", "12"), (3, "seq", -1), (4, "sent_time", math.nan), (1, "msg_id", "x"),
                           (2, "origin", "PRK"), (11, "key_id", "KOR"), (12, "signature", b"\0" * 10)]:
        bad = list(fields)
        bad[i] = value
        reason, detail = reject_reason(v, sealed.subject, msgspec.msgpack.encode(bad))
        assert reason == Reason.UNDECODABLE and f"$.{name}" in detail, detail
    reason, _ = reject_reason(v, sealed.subject, msgspec.msgpack.encode([*fields, 1]))
    assert reason == Reason.UNDECODABLE


def test_invalid_payload_signed_by_its_origin(rings):
    sealed = Sealer(rings["KOR"]).seal(track())
    d = msgspec.msgpack.decode(decode_env(sealed.data).payload)
    d["state"][2] = math.nan
    forged = resign(sealed.data, rings["KOR"], payload=msgspec.msgpack.encode(d))
    reason, detail = reject_reason(verifier(rings, "USA"), sealed.subject, forged)
    assert reason == Reason.INVALID_PAYLOAD and "$.state[2]" in detail
    d = msgspec.msgpack.decode(decode_env(sealed.data).payload)
    d["time"] = "yesterday"
    forged = resign(sealed.data, rings["KOR"], payload=msgspec.msgpack.encode(d))
    reason, detail = reject_reason(verifier(rings, "USA"), sealed.subject, forged)
    assert reason == Reason.INVALID_PAYLOAD and "$.time" in detail
    forged = resign(sealed.data, rings["KOR"], payload=b"\xc1")
    assert reject_reason(verifier(rings, "USA"), sealed.subject, forged)[0] == Reason.INVALID_PAYLOAD


# ---------------------------------------------------------------------------------------------- sealing errors
def test_seal_refuses_what_must_not_leave(rings):
    with pytest.raises(e.SealError, match="comes from JPN"):
        e.seal(track(origin="JPN"), keyring=rings["KOR"], seq=1)
    with pytest.raises(ReleaseError, match="may go to local only"):
        e.seal(report(), keyring=rings["KOR"], seq=1, release={"USA"})
    with pytest.raises(ReleaseError, match="may go to USA only"):
        e.seal(track(), keyring=rings["KOR"], seq=1, release={"USA", "JPN"})
    with pytest.raises(e.SealError, match=r"\$\.state\[1\]"):
        e.seal(Track(id="t", origin="KOR", time=T0, state=(0.0, math.inf, 0.0, 0.0, 0.0, 0.0), cov=(1.0,) + (0.0,) * 20,
                     status="confirmed", phase="boost", exercise=False), keyring=rings["KOR"], seq=1)
    with pytest.raises(e.SealError, match="not a registered message type"):
        e.seal(GeoPoint(lat_deg=0.0, lon_deg=0.0), keyring=rings["KOR"], seq=1)
    with pytest.raises(e.SealError, match="differs from the payload's time"):
        e.seal(track(), keyring=rings["KOR"], seq=1, valid_time=T0)
    with pytest.raises(e.SealError, match="over the limit"):
        e.seal(track(), keyring=rings["KOR"], seq=1, max_bytes=100)
    with pytest.raises(e.SealError, match="no signing key"):
        e.seal(track(), keyring=KeyRing(), seq=1)


def test_sealer_sequences(rings):
    s1 = Sealer(rings["KOR"])
    a = s1.seal(track())
    b = s1.seal(track())
    c = s1.seal(launch())
    assert b.seq == a.seq + 1 and c.seq == a.seq  # one counter per kind, time-based start
    assert s1.counters() == {"track": b.seq + 1, "launch": c.seq + 1}
    s2 = Sealer(rings["KOR"])  # a restarted node continues above the old numbers
    assert s2.seal(track()).seq > b.seq
    s3 = Sealer(rings["KOR"], start_seq=s1.counters())
    assert s3.seal(track()).seq == b.seq + 1


# ---------------------------------------------------------------------------------------------- keys
def test_keys_save_load_and_trust(tmp_path, rings):
    kor = KeyRing.generate("KOR")
    key_path, _ = kor.save(tmp_path, password=b"secret")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    rings["USA"].save(tmp_path)
    loaded = KeyRing.load(tmp_path, "KOR", password=b"secret")
    assert loaded.key_id == kor.key_id
    assert loaded.trusted() == {kor.key_id: "KOR", rings["USA"].key_id: "USA"}
    sealed = Sealer(loaded).seal(track())
    usa = KeyRing.load(tmp_path)  # public keys only
    assert Verifier(usa, "USA").open(sealed.subject, sealed.data)[1].origin == "KOR"
    with pytest.raises(e.KeyRingError, match=r"KOR\.key\.pem"):
        KeyRing.load(tmp_path, "KOR", password=b"wrong")
    with pytest.raises(e.KeyRingError, match="does not exist"):
        KeyRing.load(tmp_path / "nowhere")
    (tmp_path / "JPN.pub.pem").write_bytes(b"not a key")
    with pytest.raises(e.KeyRingError, match=r"JPN\.pub\.pem"):
        KeyRing.load(tmp_path)
    ec_pub = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(e.KeyRingError, match="must be Ed25519"):
        KeyRing().trust("JPN", ec_pub)
    with pytest.raises(e.KeyRingError, match="nation code"):
        KeyRing.generate("PRK")


@pytest.mark.skipif(len(e.BACKENDS) < 2, reason="PyNaCl not installed: one Ed25519 backend only")
def test_backends_interoperate():
    a = KeyRing.generate("KOR", backend="libsodium")
    b = KeyRing.generate("KOR", backend="openssl")
    data = os.urandom(300)
    for signer, other in ((a, b), (b, a)):
        ring = KeyRing(backend=other.backend)
        ring.trust("KOR", signer.public_pem())
        sig = signer.sign(data)
        assert ring.verify(signer.key_id, sig, data)
        assert not ring.verify(signer.key_id, sig, data + b"x")


# ---------------------------------------------------------------------------------------------- hostile input
def test_hostile_bytes_only_ever_raise_rejected(rings):
    """10 000 hostile messages: random bytes, mutated genuine messages, random msgpack arrays, and envelopes
    correctly signed by a trusted origin around random payloads. Each must raise Rejected, never internal."""
    rng = random.Random(20231219)
    kor = Sealer(rings["KOR"])
    genuine = [kor.seal(track()).data, kor.seal(launch()).data, Sealer(rings["JPN"]).seal(assessment()).data]
    v = verifier(rings, "USA")
    for data in genuine:  # received once; every later copy is a replay
        v.open(decode_env(data).subject, data)
    atoms = [None, True, 0, -1, 2**64 - 1, 1.5, math.nan, "", "wl.KOR.USA.track", b"", b"\0" * 64, [], {}, "KOR",
             uuid7(), rings["KOR"].key_id]

    def random_obj(depth=0):
        c = rng.random()
        if depth < 3 and c < 0.15:
            return [random_obj(depth + 1) for _ in range(rng.randrange(0, 5))]
        if depth < 3 and c < 0.25:
            return {rng.choice(["type", "v", "id", "state", "x"]): random_obj(depth + 1) for _ in range(3)}
        return rng.choice(atoms)

    base = decode_env(genuine[0])
    reasons = set()
    for i in range(10_000):
        kind = i % 5
        if kind == 0:
            data = rng.randbytes(rng.randrange(0, 600))
        elif kind == 1:
            data = bytearray(rng.choice(genuine))
            for _ in range(rng.randrange(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data)
        elif kind == 2:
            data = rng.choice(genuine)
            data = data[: rng.randrange(len(data))] if rng.random() < 0.5 else data + rng.randbytes(rng.randrange(9))
        elif kind == 3:
            fields = list(msgspec.msgpack.decode(genuine[0]))
            fields[rng.randrange(len(fields))] = random_obj()
            data = msgspec.msgpack.encode(fields if rng.random() < 0.8 else fields[: rng.randrange(13)])
        else:
            payload = (msgspec.msgpack.encode(random_obj()) if rng.random() < 0.5
                       else rng.randbytes(rng.randrange(0, 200)))
            env = msgspec.structs.replace(base, payload=payload, msg_id=uuid7(), seq=base.seq + i)
            env = msgspec.structs.replace(env, signature=rings["KOR"].sign(env.signing_bytes()))
            data = msgspec.msgpack.encode(env)
        try:
            v.open("wl.KOR.USA.track", data)
        except Rejected as rej:
            assert rej.reason != Reason.INTERNAL, rej.detail
            reasons.add(rej.reason)
        else:
            pytest.fail(f"hostile message {i} (strategy {kind}) was accepted")
    assert {Reason.UNDECODABLE, Reason.BAD_SIGNATURE, Reason.INVALID_PAYLOAD} <= reasons
    assert sum(v.counts.values()) == 10_003 and v.counts["accepted"] == 3


# ---------------------------------------------------------------------------------------------- track batches
def test_track_batch_one_envelope_for_many_tracks(rings):
    """A push's tracks travel as one signed TrackBatch on the track subject; the receiver gets every track;
    a batch whose tracks disagree with it (origin, marking, time, a repeated id) cannot be sealed, and one
    signed that way anyway is rejected with a reason."""
    from warnlink.sharing.messages import MAX_BATCH_TRACKS, TrackBatch, batch_tracks

    tracks = [track(time=T0 + 10.0 + 0.1 * k) for k in range(MAX_BATCH_TRACKS)]
    sealed = Sealer(rings["KOR"]).seal(TrackBatch.of(tracks))
    assert sealed.subject == "wl.KOR.USA.track" and len(sealed.data) <= e.MAX_MESSAGE_BYTES
    env, p = verifier(rings, "USA").open(sealed.subject, sealed.data)
    assert env.kind == "track" and env.valid_time == tracks[-1].time
    assert [t.id for t in batch_tracks(p)] == [t.id for t in tracks]
    assert reject_reason(verifier(rings, "JPN"), sealed.subject, sealed.data)[0] == Reason.NOT_RELEASABLE
    bad = {"origin": [track(), track(origin="JPN")], "exercise": [track(), track(exercise=False)],
           "twice": [tracks[0], tracks[0]]}
    for what, ts in bad.items():
        with pytest.raises(ValueError, match=what):
            TrackBatch.of(ts)
    with pytest.raises(ValueError, match="newest"):
        TrackBatch(origin="KOR", time=T0, exercise=True, tracks=tuple(tracks[:2]))
    with pytest.raises(e.SealError, match="length"):  # (the struct's bounds are checked on decoding)
        Sealer(rings["KOR"]).seal(TrackBatch.of([*tracks, track()]))
    # signed by KOR with a JPN track inside (built around the checks): invalid payload, not accepted
    forged = msgspec.to_builtins(TrackBatch.of(tracks[:2]))
    forged["tracks"] = [forged["tracks"][0], msgspec.to_builtins(track(origin="JPN", time=tracks[1].time))]
    body = msgspec.msgpack.encode(forged)
    good = decode_env(Sealer(rings["KOR"]).seal(TrackBatch.of(tracks[:2])).data)
    data = resign(msgspec.msgpack.encode(good), rings["KOR"], payload=body)
    assert reject_reason(verifier(rings, "USA"), good.subject, data)[0] == Reason.INVALID_PAYLOAD


# ---------------------------------------------------------------------------------------------- assessment batches
def test_assessment_batch_one_envelope_for_a_round(rings):
    """An assessment round's objects travel as one signed AssessmentBatch on the assessment subject, to both
    partners; each receiver gets every assessment; a batch whose assessments disagree with it (origin, marking,
    time, a repeated object) cannot be sealed, and one signed that way anyway is rejected with a reason."""
    from warnlink.sharing.messages import MAX_BATCH_ASSESSMENTS, AssessmentBatch, batch_assessments

    items = [msgspec.structs.replace(assessment(origin="KOR"), time=T0 + 90.0 + k)
             for k in range(MAX_BATCH_ASSESSMENTS)]
    sealed = Sealer(rings["KOR"]).seal(AssessmentBatch.of(items))
    assert sealed.subject == "wl.KOR.JPN-USA.assessment" and len(sealed.data) <= e.MAX_MESSAGE_BYTES
    for receiver in ("USA", "JPN"):
        env, p = verifier(rings, receiver).open(sealed.subject, sealed.data)
        assert env.kind == "assessment" and env.valid_time == items[-1].time
        assert [a.object_id for a in batch_assessments(p)] == [a.object_id for a in items]
    one = Sealer(rings["KOR"]).seal(items[0])  # a lone Assessment is still read
    assert [a.id for a in batch_assessments(verifier(rings, "JPN").open(one.subject, one.data)[1])] == [items[0].id]
    bad = {"origin": [items[0], assessment(origin="JPN")],
           "exercise": [items[0], msgspec.structs.replace(items[1], exercise=True)],
           "twice": [items[0], msgspec.structs.replace(items[1], object_id=items[0].object_id)]}
    for what, batch in bad.items():
        with pytest.raises(ValueError, match=what):
            AssessmentBatch.of(batch)
    with pytest.raises(ValueError, match="at least one"):
        AssessmentBatch.of([])
    with pytest.raises(ValueError, match="newest"):
        AssessmentBatch(origin="KOR", time=T0, exercise=False, assessments=tuple(items[:2]))
    with pytest.raises(e.SealError, match="length"):
        Sealer(rings["KOR"]).seal(AssessmentBatch.of([*items, assessment(origin="KOR")]))
    # signed by KOR with a JPN assessment inside (built around the checks): invalid payload, not accepted
    forged = msgspec.to_builtins(AssessmentBatch.of(items[:2]))
    forged["assessments"][1]["origin"] = "JPN"
    good = decode_env(Sealer(rings["KOR"]).seal(AssessmentBatch.of(items[:2])).data)
    data = resign(msgspec.msgpack.encode(good), rings["KOR"], payload=msgspec.msgpack.encode(forged))
    assert reject_reason(verifier(rings, "JPN"), good.subject, data)[0] == Reason.INVALID_PAYLOAD
