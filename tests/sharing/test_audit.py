"""Hash-chained audit log: real sealed traffic in, every kind of tampering detected by verify."""

from __future__ import annotations

import hashlib
import threading

import msgspec
import numpy as np
import pytest

from warnlink.sharing import audit as a
from warnlink.sharing.envelope import KeyRing, Rejected, Sealer, Verifier
from warnlink.sharing.ids import uuid7
from warnlink.sharing.messages import Track

T0 = 1_702_944_000.0


def track(origin="KOR") -> Track:
    return Track.from_arrays(id=uuid7(), origin=origin, time=T0, x=[-3.1e6, 4.0e6, 3.9e6, 1.0e3, -8.0e2, 2.5e3],
                             P=np.eye(6) * 100.0, status="confirmed", phase="midcourse", exercise=True)


@pytest.fixture(scope="module")
def rings():
    kor, usa = KeyRing.generate("KOR"), KeyRing.generate("USA")
    usa.trust("KOR", kor.public_pem())
    kor.trust("USA", usa.public_pem())
    return {"KOR": kor, "USA": usa}


def fill(path, rings, n=12, keyring=None, **kw):
    """A USA node's log of real traffic: tracks sent by KOR received, one replay rejected, one own message sent."""
    sealer, ver = Sealer(rings["KOR"]), Verifier(rings["USA"], "USA")
    with a.AuditLog(path, keyring=keyring, fsync="never", **kw) as log:
        for i in range(n):
            msg = sealer.seal(track())
            env, _ = ver.open(msg.subject, msg.data)
            log.received(msg.subject, msg.data, env)
            if i == 3:
                try:
                    ver.open(msg.subject, msg.data)
                except Rejected as rej:
                    log.rejected(msg.subject, msg.data, rej)
            if i == 5:
                own = Sealer(rings["USA"]).seal(track("USA"))
                log.sent(own.subject, own.data, msg_id=own.msg_id, origin="USA")
    return path


def lines(path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path, ls):
    path.write_bytes(b"".join(ls))


def problems(path, keyring=None) -> str:
    rep = a.verify(path, keyring)
    assert not rep.ok
    return "\n".join(rep.problems)


def rechain(ls: list[bytes]) -> list[bytes]:
    """What a careful forger does: recompute every hash from the first record on."""
    out, prev = [], a.GENESIS
    for raw in ls:
        rec = msgspec.json.decode(raw)
        rec["prev_hash"] = prev
        body = {k: v for k, v in rec.items() if k != "hash"}
        rec["hash"] = hashlib.sha256(a.DOMAIN + msgspec.json.encode(body)).hexdigest()
        prev = rec["hash"]
        out.append(msgspec.json.encode(rec) + b"\n")
    return out


# ---------------------------------------------------------------------------------------------- good logs
def test_records_and_a_clean_verify(tmp_path, rings):
    path = fill(tmp_path / "usa.audit.jsonl", rings, keyring=rings["USA"])
    recs = [msgspec.json.decode(x, type=a.AuditRecord) for x in lines(path)]
    assert [r.seq for r in recs] == list(range(1, 15))
    assert [r.direction for r in recs].count("rejected") == 1 and [r.direction for r in recs].count("sent") == 1
    rej = next(r for r in recs if r.direction == "rejected")
    assert rej.reason == "replayed_id" and rej.origin == "KOR" and rej.msg_id and "already received" in rej.detail
    assert recs[0].prev_hash == a.GENESIS and all(recs[i].prev_hash == recs[i - 1].hash for i in range(1, 14))
    assert all(r.subject == "wl.KOR.USA.track" for r in recs if r.direction != "sent")
    rep = a.verify(path, rings["USA"])
    assert rep.ok and rep.records == 14 and rep.last_seq == 14 and rep.problems == []
    assert rep.checkpoint_verified and rep.checkpoint_seq == 14
    ok, text = a.verify_cli(path)
    assert ok and text.startswith("OK") and "not checked" in text


def test_reopen_continues_the_chain(tmp_path, rings):
    path = fill(tmp_path / "log.jsonl", rings, n=3, keyring=rings["USA"])
    fill(path, rings, n=3, keyring=rings["USA"])
    rep = a.verify(path, rings["USA"])
    assert rep.ok and rep.records == 6 and rep.checkpoint_verified  # two runs of 3 received


def test_concurrent_appends(tmp_path):
    path = tmp_path / "c.jsonl"
    with a.AuditLog(path, fsync="never") as log:
        def work(k):
            for i in range(300):
                log.append("received", f"wl.KOR.USA.track.{k}", f"{k}-{i}".encode(), msg_id=uuid7(), origin="KOR")
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    rep = a.verify(path)
    assert rep.ok and rep.records == 1200


def test_fsync_policies_and_arguments(tmp_path):
    for policy in a.FSYNC_POLICIES:
        p = tmp_path / f"{policy}.jsonl"
        with a.AuditLog(p, fsync=policy, fsync_interval_s=0.0) as log:
            log.append("sent", "wl.KOR.USA.track", b"x")
        assert a.verify(p).ok
    with pytest.raises(ValueError, match="fsync policy"):
        a.AuditLog(tmp_path / "x.jsonl", fsync="sometimes")
    with a.AuditLog(tmp_path / "y.jsonl", fsync="never") as log, pytest.raises(ValueError, match="direction"):
        log.append("forwarded", "s", b"")
    log = a.AuditLog(tmp_path / "z.jsonl", fsync="never")
    log.close()
    log.close()
    with pytest.raises(a.AuditError, match="closed"):
        log.append("sent", "s", b"")


# ---------------------------------------------------------------------------------------------- tampering
def test_altered_record(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings)
    ls = lines(path)
    ls[1] = ls[1].replace(b'"direction":"received"', b'"direction":"rejected"')
    write_lines(path, ls)
    assert "line 2 (seq 2): altered (hash does not match" in problems(path)


def test_altered_formatting_only(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings)
    ls = lines(path)
    ls[2] = ls[2].replace(b'"seq":3,', b'"seq": 3,')
    write_lines(path, ls)
    assert "line 3 (seq 3): altered (not in canonical form)" in problems(path)


def test_garbled_record(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings)
    ls = lines(path)
    ls[6] = b'{"seq":7,"oops"\n'
    write_lines(path, ls)
    assert "line 7: altered (not a valid audit record" in problems(path)


def test_deleted_record(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings)
    ls = lines(path)
    del ls[5]
    write_lines(path, ls)
    text = problems(path)
    assert "records seq 6..6 missing (deleted)" in text and "chain broken" in text


def test_inserted_record(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings)
    ls = lines(path)
    ls.insert(8, ls[2])  # a copy of an earlier, genuine record
    write_lines(path, ls)
    text = problems(path)
    assert "line 9 (seq 3): seq out of order" in text and "chain broken" in text


def test_reordered_records(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings)
    ls = lines(path)
    ls[3], ls[4] = ls[4], ls[3]
    write_lines(path, ls)
    text = problems(path)
    assert "line 4 (seq 5): records seq 4..4 missing" in text and "line 5 (seq 4): seq out of order" in text


def test_truncated_tail_partial_line(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings)
    data = path.read_bytes()
    path.write_bytes(data[:-40])
    text = problems(path)
    assert "truncated tail (incomplete last record" in text
    with pytest.raises(a.AuditError, match="incomplete"):
        a.AuditLog(path)


def test_truncated_tail_whole_records(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings)
    write_lines(path, lines(path)[:-3])
    assert "truncated tail: the head records seq 14 but the log ends at seq 11" in problems(path)
    with pytest.raises(a.AuditError, match="deleted from the end"):
        a.AuditLog(path)  # appending would hide the evidence


def test_rewritten_log_caught_by_the_signed_checkpoint(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings, keyring=rings["USA"])
    ls = lines(path)
    ls[1] = ls[1].replace(b'"direction":"received"', b'"direction":"rejected"')
    ls = rechain(ls)
    write_lines(path, ls)
    # the chain is consistent again; the forger also rewrites the unsigned part of the head
    head = a._parse_head(a.head_path(path).read_bytes())
    last = msgspec.json.decode(ls[-1])
    forged = a._Head(head.seq, last["hash"], head.cseq, head.chash, head.key_id, head.sig)
    a.head_path(path).write_bytes(forged.line())
    text = problems(path, rings["USA"])
    assert "checkpoint: the log's hash at seq 14 differs from the signed one" in text
    # ... and the signed part too: the signature no longer verifies
    forged = a._Head(head.seq, last["hash"], head.cseq, last["hash"], head.key_id, head.sig)
    a.head_path(path).write_bytes(forged.line())
    text = problems(path, rings["USA"])
    assert "checkpoint: signature by" in text and "does not verify" in text
    # without a checkpoint the same rewrite is invisible, and verify says so
    plain = fill(tmp_path / "p.jsonl", rings)
    pl = rechain([x.replace(b'"direction":"received"', b'"direction":"rejected"', 1) for x in lines(plain)])
    write_lines(plain, pl)
    last = msgspec.json.decode(pl[-1])
    a.head_path(plain).write_bytes(a._Head(last["seq"], last["hash"], 0, a.GENESIS, None, None).line())
    rep = a.verify(plain)
    assert rep.ok and any("no signed checkpoint" in w for w in rep.warnings)


def test_head_file_damage_and_absence(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings)
    a.head_path(path).write_bytes(b"garbage\n")
    assert "head file l.jsonl.head: altered or damaged" in problems(path)
    a.head_path(path).unlink()
    rep = a.verify(path)
    assert rep.ok and any("cannot be detected" in w for w in rep.warnings)


def test_verify_cli_reports_failures(tmp_path, rings):
    path = fill(tmp_path / "l.jsonl", rings, keyring=rings["USA"])
    keys = tmp_path / "keys"
    rings["USA"].save(keys)
    ok, text = a.verify_cli(path, keys_dir=keys)
    assert ok and "signed checkpoint at seq 14 verified" in text
    ls = lines(path)
    del ls[1]
    write_lines(path, ls)
    ok, text = a.verify_cli(path, keys_dir=keys)
    assert not ok and text.startswith("FAILED") and "missing (deleted)" in text
    ok, text = a.verify_cli(tmp_path / "missing.jsonl")
    assert not ok and "no such file" in text
