"""`python -m tests.attacks`: build the week (tests/attacks/world.py) in a temporary folder with a local
mosquitto, run every attack, and print one summary line each (what the closing note quotes)."""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

from hub.localbroker import LocalBroker
from tests.attacks.harness import ATTACKS
from tests.attacks.world import DAYS, build


def main() -> int:
    logging.basicConfig(level=logging.ERROR)  # the offline day's "not acknowledged" is expected
    with tempfile.TemporaryDirectory(prefix="footfall-attacks-") as tmp:
        root = Path(tmp)
        (root / "broker").mkdir()
        broker = LocalBroker(root / "broker").start()
        try:
            began = time.monotonic()
            world = build(root / "world", broker)
            print(f"world: {DAYS - 1} days replayed through agent, mosquitto and hub, and 1 more left in "
                  f"the gateway's outbox ({len(world.macs)} MACs) in {time.monotonic() - began:.1f} s")
        finally:
            broker.stop()
        failed = 0
        for attack in ATTACKS:
            result = attack(world)
            print(result.line)
            failed += result.found != 0 or result.control_found == 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
