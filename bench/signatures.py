#!/usr/bin/env python3
"""Cost of batch signatures at the hub (issue 6): verification per batch against decoding alone.

Both measured in the same run, one core, on the same signed payloads (visits, as an agent sends them):

- decode: the hub's `hub.ingest.decode.decode` without a verifier (parse, checks, rows);
- decode + verify: the same with the hub's Verifier: the signed bytes cut from the payload, the
  registered-key lookup, Ed25519 verification and the SHA-256 digest kept for replay detection.
- sign: the agent's side, `encode_envelope` with the signing key, against encoding unsigned.

    .venv/bin/python bench/signatures.py [--batches 2000] [--records 1,50,500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.wire import encode_envelope
from hub.ingest.decode import DataBatch, Verifier, decode
from tests.hub.ingest.signed import gateways, genuine


def per_batch_us(fn: Callable[[Any], object], items: Iterator[Any], n: int) -> float:
    """Best of three runs of `fn` on n items each, in microseconds per call."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn(next(items))
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--batches", type=int, default=2000, help="batches per size")
    ap.add_argument("--records", default="1,50,500", help="records per batch, comma-separated sizes")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gw, _, _, keys = gateways(Path(tmp) / "pki")
        verifier = Verifier(keys)
        topic = gw.topics.data
        print(f"signatures: {args.batches} signed batches per size, one core, best of 3")
        print(f"  {'records':>7}  {'bytes':>6}  {'decode':>9}  {'+verify':>9}  {'ratio':>5}  "
              f"{'encode':>9}  {'+sign':>9}  {'ratio':>5}")
        for size in (int(s) for s in args.records.split(",")):
            batches = [genuine(gw, seq, size) for seq in range(args.batches)]
            assert all(isinstance(decode(topic, p, verifier), DataBatch) for _, p in batches[:10])
            payloads = [p for _, p in batches] * 3
            envs = [e for e, _ in batches] * 3
            decode_us = per_batch_us(partial(decode, topic), iter(payloads), args.batches)
            verify_us = per_batch_us(partial(decode, topic, verifier=verifier), iter(payloads), args.batches)
            encode_us = per_batch_us(encode_envelope, iter(envs), args.batches)
            sign_us = per_batch_us(partial(encode_envelope, key=gw.key), iter(envs), args.batches)
            size_b = sum(len(p) for _, p in batches) // len(batches)
            print(f"  {size:>7}  {size_b:>6}  {decode_us:>7.1f}us  {verify_us:>7.1f}us  "
                  f"{verify_us / decode_us:>5.2f}  {encode_us:>7.1f}us  {sign_us:>7.1f}us  "
                  f"{sign_us / encode_us:>5.2f}")
        print("  ratio = with signatures / without, same payloads, same run")


if __name__ == "__main__":
    main()
