"""Signed batches (issue 6): only a registered gateway's own, untouched batches are stored."""

from __future__ import annotations

import json
import random
import time
import zlib
from collections import Counter
from pathlib import Path

from agent.wire import decode_signed, encode_envelope
from hub.config import DatabaseConfig
from hub.ingest import Counters, Incoming, Writer
from hub.ingest.decode import DataBatch, DeadLetter, Verifier, decode
from hub.store.engine import open_store
from tests.hub.ingest.signed import Gateway, flip_bit, gateways, genuine, with_signature
from tests.hub.support import query, scalar

GENUINE_N = 400
FLIPS_PER_BATCH = 6


def _reason(result: object) -> str:
    return result.reason if isinstance(result, DeadLetter) else "accepted"


def test_thousands_of_tampered_batches_are_all_rejected_and_every_genuine_one_accepted(
        tmp_path: Path) -> None:
    """Bit flips anywhere in the payload (plain and compressed), a batch moved to another gateway's topic,
    a gateway signing as another, truncated or stripped signatures and a stranger's key never pass the
    hub's verification; each one is dead-lettered under a named reason. Every genuine batch passes."""
    a, b, stranger, keys = gateways(tmp_path / "pki")
    verifier = Verifier(keys)
    rng = random.Random(6)
    batches = [genuine(a, seq, 1 + seq % 40) for seq in range(GENUINE_N)]  # over ~16 records: compressed
    assert sum(p[:1] == b"\x78" for _, p in batches) > GENUINE_N // 3
    reasons: Counter[str] = Counter()
    same_content = 0
    for env, payload in batches:
        assert isinstance(decode(a.topics.data, payload, verifier), DataBatch)
        _, message = decode_signed(a.topics.data, payload)
        for _ in range(FLIPS_PER_BATCH):
            flipped = flip_bit(payload, rng)
            got = decode(a.topics.data, flipped, verifier)
            if isinstance(got, DataBatch):  # only when the flip changed nothing the signature covers:
                assert decode_signed(a.topics.data, flipped)[1] == message  # (zlib's ignored padding bits)
                same_content += 1
                continue
            reasons[_reason(got)] += 1
        forged = encode_envelope(env, key=b.key)  # gw-2 signs a batch that claims to be gw-1's
        sig = decode_signed(a.topics.data, payload)[0].signature
        assert sig is not None
        tampered = {
            "moved to gw-2's topic": (b.topics.data, payload),
            "signed by gw-2 as gw-1": (a.topics.data, forged),
            "truncated signature": (a.topics.data, with_signature(env, sig[:rng.randrange(128)])),
            "stripped signature": (a.topics.data, with_signature(env, None)),
            "upper-case signature": (a.topics.data, with_signature(env, sig.upper())),
            "signature not the last member": (a.topics.data, signature_first(payload)),
        }
        for topic, bad in tampered.values():
            reasons[_reason(decode(topic, bad, verifier))] += 1
        unknown = genuine(stranger, env.seq, 2)[1]
        reasons[_reason(decode(stranger.topics.data, unknown, verifier))] += 1
    rejected = sum(reasons.values())
    print(f"\nsignatures: {GENUINE_N} genuine accepted, {rejected} tampered rejected {dict(reasons)}, "
          f"{same_content} bit flips left the signed content unchanged (accepted as the genuine batch)")
    assert "accepted" not in reasons
    assert rejected >= 3000
    assert same_content <= GENUINE_N * FLIPS_PER_BATCH // 100
    for reason in ("topic_mismatch", "bad_signature", "unsigned", "unknown_key", "bad_json"):
        assert reasons[reason] > 0, reason


def signature_first(payload: bytes) -> bytes:
    """The same JSON object with its signature moved to the front: the same content, other bytes."""
    obj = json.loads(zlib.decompress(payload) if payload[:1] == b"\x78" else payload)
    return json.dumps({"signature": obj.pop("signature"), **obj}, separators=(",", ":")).encode()


def _write(writer: Writer, gw: Gateway, payloads: list[bytes]) -> None:
    for p in payloads:
        writer.submit(Incoming(gw.topics.data, p, time.time()))


def test_a_redelivery_is_stored_once_and_another_body_under_a_stored_seq_is_a_replay(
        tmp_path: Path, hub_database: DatabaseConfig) -> None:
    """The same signed batch again is a duplicate (acknowledged, stored once); a different, validly signed
    body under an (agent, epoch, seq) already stored is dead-lettered as `replay` and never acknowledged."""
    a, _, _, keys = gateways(tmp_path / "pki")
    db = hub_database
    acked: list[int] = []
    counters = Counters()
    store = open_store(db)
    store.prepare()  # the writer needs the schema in place
    writer = store.writer(counters, lambda _m, acks: [acked.extend(s) for s in acks.values()], max_wait_ms=5,
                          decoder=lambda t, p: decode(t, p, Verifier(keys)))
    writer.start()
    originals = [genuine(a, seq, 3)[1] for seq in range(50)]
    replays = [genuine(a, seq, 4)[1] for seq in range(0, 50, 5)]  # same seqs, other records, signed
    _write(writer, a, originals)
    assert writer.wait_idle()
    _write(writer, a, originals[:20] + replays)
    assert writer.wait_idle()
    writer.stop()
    assert counters["batches_stored"] == 50
    assert counters["duplicates"] == 20
    assert counters.dead_by_reason() == {"replay": 10}
    assert sorted(acked) == sorted(list(range(50)) + list(range(20)))
    assert scalar(db, "SELECT count(*) FROM visits") == 150
    assert query(db, "SELECT DISTINCT reason FROM dead_letters") == [("replay",)]
