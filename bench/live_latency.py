#!/usr/bin/env python3
"""Live latency (issue 16): a phone's first sighting at the agent -> the live page, and -> the member
arrival event, with 50 agents against one mosquitto and one hub, for 10 minutes.

Everything is the product's own path: each agent is a real AgentApp (pipeline with its presence stage,
SQLite outbox, MQTT sink with the default 5 s coalescing), whose radio is a schedule of phones walking
in (one every 15 s on average per store, staying 2 to 6 minutes; one in ten a consenting member's
phone, which the agent tags from the hub's retained member list); the hub is `Hub` with its live page;
the page is read as a browser reads it, over server-sent events, logged in, one stream per store.
Agents run in two worker processes (spawned), the hub in this one.

- live page latency: for the k-th phone of a store, first heard at t_k by its agent, the first
  server-sent snapshot of that store whose `entries.today` >= k, minus t_k;
- arrival latency: a member's phone first heard at t -> the `members/arrived` event received by an
  MQTT subscriber; and how many events per visit (at most one is the promise).

    .venv/bin/python bench/live_latency.py [--agents 50] [--seconds 600]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing as mp
import random
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ORG = "acme"
PASSWORD = "bench-password-1"
MEMBERS_PER_STORE = 12


def mac_of(store_i: int, n: int, member: bool) -> str:
    return f"00:1b:{0x63 if member else 0x64:02x}:{store_i:02x}:{n >> 8:02x}:{n & 0xFF:02x}"


def worker(  # noqa: PLR0917 -- a spawned process's entry point, called once with args=()
    stores: list[tuple[int, str]], port: int, secret_hex: str, seconds: float, start_at: float, out: Any
) -> None:
    """Run one agent per store until start_at + seconds; put [(store, mac, first heard)] on `out`."""
    from agent.app import AgentApp  # noqa: PLC0415 -- in the spawned worker
    from agent.config import AgentConfig, MqttConfig, SourceConfig  # noqa: PLC0415
    from agent.privacy.keychain import KeyChain  # noqa: PLC0415
    from tests.support.frames import probe_request  # noqa: PLC0415

    logging.basicConfig(level=logging.ERROR)

    class Radio:
        linktype = 127

        def __init__(self, store_i: int, rng: random.Random) -> None:
            self.plan: list[tuple[float, float, str]] = []  # (arrives, leaves, mac)
            t, n, members = start_at + rng.uniform(0, 15), 0, 0
            while t < start_at + seconds - 30:
                member = members < MEMBERS_PER_STORE and rng.random() < 0.1
                mac = mac_of(store_i, members if member else n, member)
                members += member
                n += not member
                self.plan.append((t, t + rng.uniform(120, 360), mac))
                t += rng.expovariate(1 / 15)
            self.frames = {mac: probe_request(mac, rssi=-50) for _, _, mac in self.plan}
            self.passer = probe_request("02:00:00:00:99:99", rssi=-90)
            self.first: dict[str, float] = {}
            self.counters: dict[str, int] = {}
            self.problem = None

        def batches(self, stop: threading.Event) -> Any:
            while not stop.is_set():
                now = time.time()
                batch = [(now, self.passer)]
                for arrives, leaves, mac in self.plan:
                    if arrives <= now < leaves:
                        self.first.setdefault(mac, now)
                        batch.append((now, self.frames[mac]))
                yield batch
                stop.wait(0.5)

    apps = []
    stop = threading.Event()
    for store_i, store in stores:
        state = Path(tempfile.mkdtemp(prefix=f"live-bench-{store}-"))
        chain = KeyChain(0, secrets.token_bytes(32), 1, "Europe/Prague", state / "keychain.json",
                         optout_secret=bytes.fromhex(secret_hex))
        chain._anchor = chain._last = (chain.index_of(time.time()), chain._anchor[1])  # as open() does
        chain.save()
        cfg = replace(AgentConfig(org=ORG, store=store, agent="gw-1", state_dir=str(state),
                                  timezone="Europe/Prague"),
                      source=SourceConfig(type="pcap", path="unused"),
                      mqtt=MqttConfig(port=port, allow_plain_loopback=True, signing_key_file=""))
        app = AgentApp(cfg)
        radio = Radio(store_i, random.Random(store_i))
        app._source = lambda r=radio: r  # type: ignore[method-assign]  # the scheduled radio
        th = threading.Thread(target=app.run, args=(stop, 5.0), daemon=True)
        apps.append((store, radio, th))
    for _, _, th in apps:
        th.start()
    time.sleep(max(0.0, start_at + seconds - time.time()))
    stop.set()
    for _, _, th in apps:
        th.join(30)
    out.put([(store, mac, t) for store, radio, _ in apps for mac, t in radio.first.items()])


def sse_reader(
    port: int, cookie: str, store: str, samples: list[tuple[float, int]], stop: threading.Event
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/store/{store}/events", headers={"Cookie": cookie})
    resp = conn.getresponse()
    while not stop.is_set():
        line = resp.readline()
        if not line:
            return
        if line.startswith(b"data: "):
            samples.append((time.time(), int(json.loads(line[6:])["entries"]["today"])))


def login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/login")
    resp = conn.getresponse()
    pre = resp.headers["Set-Cookie"].split(";")[0]
    csrf = re.search(r"name=csrf value='([^']+)'", resp.read().decode())
    assert csrf
    conn.request("POST", "/login", body=urlencode({"csrf": csrf.group(1), "username": "admin",
                                                   "password": PASSWORD}),
                 headers={"Cookie": pre, "Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    return str(resp.headers["Set-Cookie"].split(";")[0])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> None:
    import paho.mqtt.client as mqtt  # noqa: PLC0415
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415

    from agent.wire.topics import Topics  # noqa: PLC0415
    from hub.app import Hub  # noqa: PLC0415
    from hub.config import DatabaseConfig, HubConfig, LiveConfig, MqttConfig, TrustConfig  # noqa: PLC0415
    from hub.imports import importer  # noqa: PLC0415
    from hub.live.auth import Users  # noqa: PLC0415
    from hub.localbroker import LocalBroker, free_port  # noqa: PLC0415
    from hub.optout import settings  # noqa: PLC0415
    from hub.pki.registry import optout_secret  # noqa: PLC0415
    from hub.store.sql import open_database  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=600)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="live-bench-"))
    (work / "broker").mkdir()
    broker = LocalBroker(work / "broker").start()
    stores = [(i, f"s{i:02d}") for i in range(args.agents)]
    (work / "pki").mkdir()
    config = HubConfig(mqtt=MqttConfig(port=broker.port, allow_plain_loopback=True),
                       database=DatabaseConfig(path=str(work / "hub.db")),
                       trust=TrustConfig(pki_dir=str(work / "pki"), require_signatures=False),
                       live=LiveConfig(http=f"127.0.0.1:{free_port()}"), default_timezone="Europe/Prague")
    crm = work / "crm.csv"
    member_of: dict[str, str] = {}
    with crm.open("w") as fh:
        fh.write("member_id,segment,tier,join_date,consent,device_mac\n")
        for i, store in stores:
            for n in range(MEMBERS_PER_STORE):
                member_of[mac_of(i, n, True)] = f"M-{store}-{n}"
                fh.write(f"M-{store}-{n},family,gold,2024-01-01,yes,{mac_of(i, n, True)}\n")
    db = open_database(config.database)
    importer("crm")(db, crm, config)
    db.close()
    users = Users(config.database)
    users.add(config, "admin", "admin", "", PASSWORD)
    users.close()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-staff", protocol=mqtt.MQTTv5)
    events: list[tuple[float, str, str]] = []
    client.on_message = lambda _c, _u, m: events.append((time.time(), m.topic, m.payload.decode()))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    payload = settings(config).encode()
    for _, store in stores:
        client.publish(Topics(ORG, store, "gw-1").config, payload, qos=1, retain=True).wait_for_publish(5)
    client.subscribe("footfall/v1/+/+/members/arrived", qos=1)

    hub = Hub(config).start()
    assert hub.live_server is not None
    cookie = login(hub.live_server.port)
    samples: dict[str, list[tuple[float, int]]] = defaultdict(list)
    stop = threading.Event()
    readers = [threading.Thread(target=sse_reader, args=(hub.live_server.port, cookie, s, samples[s], stop),
                                daemon=True) for _, s in stores]
    for r in readers:
        r.start()
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    start_at = time.time() + 20  # the workers build their frames first
    halves = [stores[: len(stores) // 2], stores[len(stores) // 2:]]
    procs = [ctx.Process(target=worker, args=(h, broker.port, optout_secret(work / "pki").hex(), args.seconds,
                                              start_at, out)) for h in halves]
    for p in procs:
        p.start()
    first: list[tuple[str, str, float]] = []
    for _ in procs:
        first.extend(out.get(timeout=args.seconds + 300))
    for p in procs:
        p.join(60)
    time.sleep(15)
    stop.set()
    counters = hub.counters.snapshot()
    desk = hub.live_feed.desk.counters if hub.live_feed and hub.live_feed.desk else {}
    hub.stop()
    client.loop_stop()
    broker.stop()

    live: list[float] = []
    by_store: dict[str, list[float]] = defaultdict(list)
    for store, _mac, t in first:
        by_store[store].append(t)
    missed = 0
    for store, times in by_store.items():
        for k, t in enumerate(sorted(times), start=1):
            seen = next((at for at, n in samples[store] if n >= k), None)
            if seen is None:
                missed += 1
            else:
                live.append(max(0.0, seen - t))
    arrivals: list[float] = []
    per_member: dict[str, int] = defaultdict(int)
    first_event: dict[str, float] = {}
    for at, _topic, body in events:
        member = json.loads(body)["member_id"]
        per_member[member] += 1
        first_event.setdefault(member, at)
    member_phones = [(member_of[mac], t) for _s, mac, t in first if mac in member_of]
    for member, t in member_phones:
        if member in first_event:
            arrivals.append(first_event[member] - t)
    print(f"{args.agents} agents, {args.seconds:.0f} s, {len(first)} phones walked in "
          f"({len(member_phones)} members'); hub: {counters['records_stored']} records in "
          f"{counters['commits']} commits, {counters['dead_letters']} dead letters")
    print(f"live page (first sighting -> server-sent snapshot counting it): n={len(live)} "
          f"p50 {pct(live, 0.5):.2f} s  p99 {pct(live, 0.99):.2f} s  max {max(live, default=0):.2f} s"
          f"  never shown {missed}")
    print(f"arrival event (first sighting -> members/arrived received): n={len(arrivals)} of "
          f"{len(member_phones)}  p50 {pct(arrivals, 0.5):.2f} s  p99 {pct(arrivals, 0.99):.2f} s  "
          f"max {max(arrivals, default=0):.2f} s")
    print(f"events per member visit: max {max(per_member.values(), default=0)} "
          f"(desk: {dict(desk)}); mean {statistics.fmean(per_member.values()) if per_member else 0:.2f}")


if __name__ == "__main__":
    main()
