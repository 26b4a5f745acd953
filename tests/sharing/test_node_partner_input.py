"""The node's handling of partner input, on a real fabric but without the node process: a redelivery is
verified and audited before it is dropped, a message reusing an applied id is not taken for one, and
rejected messages are dead-lettered without holding up the valid traffic behind them."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import msgspec
import numpy as np

from warnlink.sharing.envelope import KeyRing, Sealer
from warnlink.sharing.messages import Track
from warnlink.sharing.node import NationalNode, dead_letter_subject
from warnlink.sharing.releasability import default_policy
from warnlink.sharing.runtime import ensure_keys


def _node(tmp_path, fabric) -> tuple[NationalNode, Sealer]:
    keys = tmp_path / "keys"
    ensure_keys(keys, ("USA", "KOR", "JPN"))
    node = NationalNode("JPN", tmp_path / "state", fabric_dir=tmp_path / "fabric", keys_dir=keys)
    node._setup_files()
    return node, Sealer(KeyRing.load(keys, node_id="USA"), default_policy())


def _track(k: int) -> Track:
    x = np.array([-3.0e6 + 1e3 * k, 4.0e6, 3.9e6, 1500.0, 200.0, 900.0])
    return Track.from_arrays(id=f"USA-T{k}", origin="USA", time=time.time() - 300.0 + k, x=x, P=np.eye(6) * 100.0,
                             status="confirmed", phase="midcourse", exercise=True)


def _msg(sealed, data: bytes | None = None) -> SimpleNamespace:
    return SimpleNamespace(subject=sealed.subject, data=sealed.data if data is None else data,
                           headers={"Nats-Msg-Id": sealed.msg_id})


def _audit(node: NationalNode) -> list[dict]:
    node.audit.flush()
    return [json.loads(x) for x in (node.dir / "audit.jsonl").read_text().splitlines()]


def test_a_redelivery_is_verified_and_audited_and_a_reused_id_is_not_taken_for_one(tmp_path, fabric):
    async def main():
        node, sealer = _node(tmp_path, fabric)
        sealed = sealer.seal(_track(1))
        await node._on_partner(_msg(sealed))
        assert ("USA", "USA-T1") in node.partner_tracks
        # the same signed bytes again (a JetStream redelivery): dropped, with an audit record
        await node._on_partner(_msg(sealed))
        assert await node._on_reader_duplicate(_msg(sealed)) is True
        # other bytes under the applied id (a forgery that reuses it): not a redelivery, rejected with a reason
        env = msgspec.msgpack.decode(sealed.data)
        env[-1] = bytes(64)  # the signature zeroed
        forged = msgspec.msgpack.encode(env)
        assert await node._on_reader_duplicate(_msg(sealed, forged)) is False
        await node._on_partner(_msg(sealed, forged))
        return node

    node = asyncio.run(main())
    recs = _audit(node)
    assert [r["direction"] for r in recs] == ["received", "duplicate", "duplicate", "rejected"]
    assert {r["msg_id"] for r in recs} == {recs[0]["msg_id"]}
    assert recs[1]["reason"] == "duplicate" and recs[1]["sha256"] == recs[0]["sha256"]
    assert recs[3]["reason"] == "bad_signature", recs[3]
    assert node.counters["duplicates"] == 1 and node.counters["redelivered"] == 1
    assert node.counters["rejected:bad_signature"] == 1 and node.counters["dead_lettered"] == 1


def test_dead_lettering_does_not_hold_up_valid_traffic(tmp_path, fabric):
    """A flood of rejected messages is queued for the dead-letter stream (nothing is awaited per message): the
    valid message behind them is applied while every dead letter is still waiting, and all of them reach
    ``JPN_DEAD`` with their reason once the dead-letter task runs."""
    from nats.js.api import StreamConfig

    n_bad = 500

    async def main():
        node, sealer = _node(tmp_path, fabric)
        node._dead_q = asyncio.Queue()
        good = sealer.seal(_track(2))
        for k in range(n_bad):
            await node._on_partner(SimpleNamespace(subject=good.subject, data=b"\x00junk %d" % k, headers={}))
        await node._on_partner(_msg(good))
        applied_with_pending = (("USA", "USA-T2") in node.partner_tracks, node._dead_q.qsize())
        admin = await fabric.connect("JPN", "admin")
        await admin.jetstream().add_stream(StreamConfig(name="JPN_DEAD", subjects=[dead_letter_subject("JPN")]))
        node.nc = await fabric.connect("JPN", "node")
        node.js = node.nc.jetstream(timeout=2)
        task = asyncio.create_task(node._dead_letterer())
        await asyncio.wait_for(node._dead_q.join(), 30)
        task.cancel()
        info = await admin.jetstream().stream_info("JPN_DEAD")
        last = await admin.jetstream().get_last_msg("JPN_DEAD", dead_letter_subject("JPN"))
        await node.nc.close()
        await admin.close()
        return node, applied_with_pending, info.state.messages, last.headers

    node, (applied, pending), stored, hdrs = asyncio.run(main())
    assert applied and pending == n_bad
    assert stored == n_bad and node.counters["dead_letter_fallback"] == 0
    assert hdrs["Wl-Reason"] == "undecodable", hdrs


def test_a_backlog_is_read_in_order_exactly_once_with_the_subscription_bookkeeping_intact(fabric):
    """A reader started behind 2 000 stored messages takes the waiting ones straight from its inbox (not one
    ``next_msg`` task each): all arrive once, in stream order, and the inbox's pending count returns to 0."""
    from warnlink.sharing.fabric import PartnerReader, publish_durable

    n = 2000

    async def main():
        kor, jpn = await fabric.connect("KOR"), await fabric.connect("JPN")
        for start in range(0, n, 250):
            await asyncio.gather(*(publish_durable(kor, "wl.KOR.JPN-USA.track.t", b"x" * 100, f"b{i}", timeout=10)
                                   for i in range(start, start + 250)))
        got: list[int] = []
        done = asyncio.Event()

        async def handle(msg):
            got.append(msg.metadata.sequence.stream)
            if len(got) >= n:
                done.set()

        reader = PartnerReader(jpn, fabric.feed("JPN", "KOR"), handle, expires_s=0.5)
        async with reader:
            await asyncio.wait_for(done.wait(), 60)
            pending = reader._sub.pending_msgs, reader._sub.pending_bytes
        await kor.close()
        await jpn.close()
        return got, reader, pending

    got, reader, pending = asyncio.run(main())
    assert got == sorted(got) and len(set(got)) == n
    assert reader.received == n and reader.duplicates == 0 and reader.handler_errors == 0
    assert pending == (0, 0)


def test_the_hub_re_releases_a_system_track_when_an_ally_update_older_than_its_own_comes_in(tmp_path):
    """A system track is released again whenever a member's information changes, also when the ally's update
    is older than the hub's own newest one (the fused estimate changed; keyed on the newest member time alone,
    it was held back until the hub's next update, and for good at an event's end), but not when the same
    members are merely fused again."""
    from warnlink.sharing.node import _PictureObject

    node = NationalNode("USA", tmp_path / "state")
    released = []
    node._release_tracks = lambda msgs, provs: released.extend((m.id, m.time) for m in msgs)
    obj = _PictureObject("USA-run-O1")
    obj.contributors = {"USA": "USA-run-T1", "KOR": "KOR-T7"}

    def entry(origin: str, tid: str, t: float) -> tuple:
        return (origin, tid, np.zeros(6), np.eye(6), t, "midcourse", True, None, {origin: 1.0 + t}, 1.0 + t)

    def fuse(t_usa: float, t_kor: float) -> None:
        node._finish_object(obj, [entry("USA", "USA-run-T1", t_usa), entry("KOR", "KOR-T7", t_kor)], 0.0)
        obj.t = max(t_usa, t_kor)
        node._publish_fused([obj])

    fuse(10.0, 9.0)
    assert len(released) == 1
    fuse(10.0, 9.5)  # KOR's update, older than USA's latest: the fused track changed, so it goes out
    assert len(released) == 2
    fuse(10.0, 9.5)  # the same members again (a rebuild): nothing new to release
    assert len(released) == 2
    fuse(10.5, 9.5)
    assert released[-1] == ("USA-run-O1", 10.5) and len(released) == 3


def test_a_track_batch_applies_every_track_with_its_own_provenance(tmp_path, fabric):
    """One signed TrackBatch (the hub's fused tracks of one pass) is one received message: one audit record,
    one applied record, every track upserted with the provenance the ``Wl-Prov`` list gives it; a redelivery
    of it changes nothing."""
    from warnlink.sharing.messages import TrackBatch

    async def main():
        node, sealer = _node(tmp_path, fabric)
        sealed = sealer.seal(TrackBatch.of([_track(k) for k in range(3)]))
        prov = [{"KOR": 10.0 + k, "USA": 20.0} for k in range(3)]
        msg = SimpleNamespace(subject=sealed.subject, data=sealed.data,
                              headers={"Nats-Msg-Id": sealed.msg_id, "Wl-Prov": json.dumps(prov)})
        await node._on_partner(msg)
        await node._on_partner(msg)
        return node

    node = asyncio.run(main())
    assert {k: v[1] for k, v in node.partner_tracks.items()} == {
        ("USA", f"USA-T{k}"): {"KOR": 10.0 + k, "USA": 20.0} for k in range(3)}
    assert [r["direction"] for r in _audit(node)] == ["received", "duplicate"]
    assert node.counters["received:track"] == 1 and node.counters["duplicates"] == 1


def test_an_assessment_batch_applies_every_assessment(tmp_path, fabric):
    """One signed AssessmentBatch (a partner's assessment round) is one received message: one audit record,
    every assessment kept as if it came alone (a newer one wins, an older one is not taken); a redelivery of
    it changes nothing."""
    from warnlink.sharing.ids import uuid7
    from warnlink.sharing.messages import Assessment, AssessmentBatch, Ellipse, GeoPoint

    t0 = time.time() - 300.0

    def assessment(k: int, t: float) -> Assessment:
        return Assessment(id=uuid7(), event_id="USA-E1", object_id=f"USA-O{k}", origin="USA", time=t,
                          launch_point=GeoPoint(lat_deg=39.2, lon_deg=125.7), launch_time=t0,
                          impact_point=GeoPoint(lat_deg=40.0 + k, lon_deg=139.0), impact_time=t0 + 900.0,
                          impact_ellipse=Ellipse(semi_major_m=5e3, semi_minor_m=3e3, orientation_deg=10.0),
                          apogee_m=6e5, range_m=1e6, missile_class="IRBM", object_kind="unknown", confidence=0.9,
                          exercise=True)

    async def main():
        node, sealer = _node(tmp_path, fabric)
        first = sealer.seal(AssessmentBatch.of([assessment(k, t0 + 100.0) for k in range(3)]))
        await node._on_partner(_msg(first))
        await node._on_partner(_msg(first))
        # O0 newer, O1 older than what the node holds: O0 replaced, O1 kept
        later = sealer.seal(AssessmentBatch.of([assessment(0, t0 + 110.0), assessment(1, t0 + 90.0)]))
        await node._on_partner(_msg(later))
        return node

    node = asyncio.run(main())
    assert {k: a.time - t0 for k, a in node.partner_assessments.items()} == {
        ("USA", "USA-O0"): 110.0, ("USA", "USA-O1"): 100.0, ("USA", "USA-O2"): 100.0}
    assert [r["direction"] for r in _audit(node)] == ["received", "duplicate", "received"]
    assert node.counters["received:assessment"] == 2 and node.counters["duplicates"] == 1


def test_a_received_batch_primes_the_fusion_entries_the_lazy_path_would_compute(tmp_path, fabric):
    """The tracks of one received message get their fusion entries (state, repaired covariance) in one pass;
    each equals what ``_partner_entry`` computes for it alone, and an older track than the one held is not
    primed over it."""
    from warnlink.sharing.messages import TrackBatch
    from warnlink.sharing.node import _safe_cov

    async def main():
        node, sealer = _node(tmp_path, fabric)
        newer = _track(0)
        await node._on_partner(_msg(sealer.seal(TrackBatch.of([newer]))))
        older = Track.from_arrays(id="USA-T0", origin="USA", time=newer.time - 5.0, x=np.asarray(newer.state),
                                  P=np.eye(6) * 7.0, status="confirmed", phase="midcourse", exercise=True)
        await node._on_partner(_msg(sealer.seal(TrackBatch.of([older, _track(1), _track(2)]))))
        return node, newer

    node, newer = asyncio.run(main())
    held = node.partner_tracks[("USA", "USA-T0")][0]
    assert held.time == newer.time and held.cov == newer.cov  # (the older one was not taken in, nor primed)
    for k in range(3):
        t, x, P = node._entry_cache[("USA", f"USA-T{k}")]
        assert t is node.partner_tracks[("USA", f"USA-T{k}")][0]
        np.testing.assert_array_equal(x, np.asarray(t.state))
        np.testing.assert_array_equal(P, _safe_cov(t.covariance()))
        e = node._partner_entry("USA", f"USA-T{k}")
        np.testing.assert_array_equal(e[3], P)
