"""Run inside a network namespace (`ip netns exec NS python -m tests.agent.live.capture_driver`): make a
radiotap TAP interface, capture on it with the agent's LiveSource while a feeder thread plays a plan
(frames to write, pauses, unplugging and replugging the interface), print what came out as JSON.

The plan comes as JSON on stdin: {"iface", "batch_frames", "channels", "flush_s", "idle_s", "steps":
[{"feed": [hex, ...]} | {"sleep": s} | {"unplug": true} | {"replug": true}]}.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from agent.sources import live
from agent.sources.live import LiveSource
from tests.agent.live.tap import open_tap


def main() -> None:
    plan: dict[str, Any] = json.load(sys.stdin)
    iface = plan.get("iface", "mon0")
    live.REOPEN_S = 0.2
    fds = [open_tap(iface)]
    source = LiveSource(iface, plan.get("batch_frames", 4096), plan.get("channels", []), 0.2,
                        flush_s=plan.get("flush_s", 0.5))
    stop, done = threading.Event(), threading.Event()

    def feeder() -> None:
        time.sleep(0.2)
        for step in plan["steps"]:
            if "feed" in step:
                for frame in step["feed"]:
                    os.write(fds[0], bytes.fromhex(frame))
            elif "sleep" in step:
                time.sleep(step["sleep"])
            elif "unplug" in step:
                os.close(fds.pop())
            elif "replug" in step:
                fds.append(open_tap(iface))
        done.set()

    threading.Thread(target=feeder, daemon=True).start()
    t0, m0 = time.time(), time.monotonic()
    batches = []
    deadline = None
    for batch in source.batches(stop):
        batches.append({"at": time.monotonic() - m0, "frames": [[ts, f.hex()] for ts, f in batch]})
        if done.is_set():
            deadline = deadline or time.monotonic() + plan.get("idle_s", 1.0)
            if time.monotonic() >= deadline:
                stop.set()
    json.dump({"t0": t0, "t1": time.time(), "batches": batches, "counters": source.counters}, sys.stdout)


if __name__ == "__main__":
    main()
