"""footfall-agent: a thin command line over the agent library.

User errors are one line on stderr with a remedy and exit 1; usage errors exit 2 (argparse).

Each command imports the modules only it needs inside its function (hence the PLC0415 ignores): only
`run` loads paho and SQLite, and the daemon on the gateway never loads the replay, calibration or
demo-generator code.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfoNotFoundError

from agent import __version__
from agent.cliargs import seconds_arg as _seconds
from agent.cliargs import window_arg as _window
from agent.common.configfile import ConfigError, path_problem
from agent.common.lifeline import Lifeline
from agent.common.logsetup import FORMATS
from agent.common.logsetup import setup as setup_logging
from agent.common.tlsfiles import EnrollError
from agent.config import AgentConfig, load
from agent.doors import DoorStartError
from agent.sources.capture_file import CaptureError
from agent.sources.ifaces import LiveSourceError
from agent.wire.records import parse_iso

if TYPE_CHECKING:  # replay loads only for its commands (docstring)
    from agent.replay import ReplayResult

PROG = "footfall-agent"
EXIT_REFUSED = 78  # EX_CONFIG: the unit's RestartPreventExitStatus=78 stops systemd retrying in a loop


class UserError(Exception):
    """An error the user can fix; printed as one line."""


def _config(path: str | None) -> AgentConfig:
    try:
        return load(path)
    except ConfigError as exc:
        raise UserError(f"{exc} (fix the file, then run: {PROG} check-config --config {path})") from None


def _identity(cfg: AgentConfig, path: str | None) -> None:
    """The installed certificate is the config's org/store/agent (a file check, no network)."""
    from agent.identity import IdentityError, check_identity  # noqa: PLC0415 -- loads the X.509 code

    try:
        check_identity(cfg, path or "the config")
    except IdentityError as exc:
        raise UserError(str(exc)) from None


def cmd_check_config(args: argparse.Namespace) -> int:
    from agent.preflight import preflight  # noqa: PLC0415 -- per-command import, see the docstring

    cfg = _config(args.config)
    try:
        preflight(cfg)  # exactly what run checks before it connects: state folder, source, TLS, keys
    except (CaptureError, LiveSourceError, EnrollError) as exc:
        raise UserError(f"{exc} (in {args.config})") from None
    _identity(cfg, args.config)
    print(f"{args.config}: ok")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from agent.common.configdoc import render  # noqa: PLC0415 -- per-command import, see the docstring

    if args.defaults == bool(args.config):
        raise UserError("say which: --defaults (every default) or --config FILE (its effective settings)")
    cfg = AgentConfig() if args.defaults else _config(args.config)
    what = "every default" if args.defaults else f"the effective settings of {args.config}"
    print(render(cfg, f"footfall-agent config: {what}, each with its meaning"), end="")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from agent import doctor  # noqa: PLC0415 -- per-command import, see the docstring

    findings = doctor.run(_config(args.config), timeout_s=args.timeout)
    for f in findings:
        print(f.line())
    return 0 if all(f.ok for f in findings) else 1


def cmd_run(args: argparse.Namespace) -> int:
    from agent.app import AgentApp, DeliveryRefusedError  # noqa: PLC0415 -- paho and SQLite load only here

    cfg = _config(args.config)
    _identity(cfg, args.config)
    if args.pcap:
        cfg = replace(cfg, source=replace(cfg.source, type="pcap", path=args.pcap))
    if cfg.source.type == "pcap" and not Path(cfg.source.path).is_file():
        raise UserError(f"capture file {cfg.source.path!r} not found (set source.path in {args.config})")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    app = AgentApp(cfg)
    lifeline = Lifeline(stop).install()  # a thread that dies stops the agent: exit 1, systemd restarts it
    try:
        code = app.run(stop, drain_timeout_s=args.drain_timeout)
    except (CaptureError, LiveSourceError, DoorStartError, EnrollError) as exc:
        raise UserError(str(exc)) from None
    except DeliveryRefusedError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        lifeline.uninstall()
    if lifeline.died:
        raise UserError(f"{lifeline.died}; stopped, to be restarted (systemd does; see the log)")
    if app.problem:
        print(f"{PROG}: warning: {app.problem}", file=sys.stderr)
    return code


def _factor(cfg: AgentConfig, state: str | None) -> float:
    """The calibrated factor of the state folder when there is one, else the config's."""
    from agent.calibrate import load_factor  # noqa: PLC0415 -- per-command import, see the docstring

    stored = load_factor(Path(state)) if state else None
    return stored if stored is not None else cfg.counting.calibration_factor


def cmd_replay(args: argparse.Namespace) -> int:
    from agent import replay  # noqa: PLC0415 -- per-command import, see the docstring
    from agent.preflight import check_state_dir  # noqa: PLC0415 -- per-command import, see the docstring

    cfg = _config(args.config)
    if args.state:
        try:
            check_state_dir(Path(args.state))
        except EnrollError as exc:
            raise UserError(f"--state: {exc}") from None
    try:
        result = replay.run(Path(args.capture), cfg, Path(args.state) if args.state else None)
    except CaptureError as exc:
        raise UserError(f"{exc} (give a pcap or pcapng capture)") from None
    if result.problem:
        print(f"{PROG}: warning: {result.problem}", file=sys.stderr)
    if args.summary:
        print(json.dumps(replay.summary(result), indent=2))
    else:
        rows = replay.windows(result, args.window, _factor(cfg, args.state))
        columns = ["window_start", "seen", "present", "present_low", "present_high", "visitors", "passersby",
                   "entering"]
        writer = csv.DictWriter(sys.stdout, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return _time_verdict(args.capture, result)


def _time_verdict(capture: str, result: ReplayResult) -> int:
    """A warning naming the frames dropped for their time; exit 1 when that was most of the capture."""
    if not result.time_dropped:
        return 0
    dropped = sum(result.time_dropped.values())
    reasons = ", ".join(f"{k} {n}" for k, n in sorted(result.time_dropped.items()))
    line = (f"{capture}: {dropped} of {result.frames_read} frames dropped for their time ({reasons}); "
            "timestamps far from the capture's own timeline or this machine's clock, or before the "
            "state folder's key window")
    if result.mostly_dropped:
        print(f"{PROG}: error: {line}: most of the capture was not counted", file=sys.stderr)
        return 1
    print(f"{PROG}: warning: {line}", file=sys.stderr)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from agent import calibrate, replay  # noqa: PLC0415 -- per-command import, see the docstring

    cfg = _config(args.config)
    state = Path(args.state) if args.state else cfg.state_path
    pairs: list[tuple[float, float]] = []
    days: list[tuple[float, float]] = []  # (linked chains, entries) per day
    sources: list[str] = []
    gate: tuple[int, int] = (0, 0)
    try:
        for capture, truth_csv in args.pair:
            try:
                segments = calibrate.read_truth(Path(truth_csv))
            except UnicodeDecodeError:
                raise calibrate.CalibrationError(f"{truth_csv}: not UTF-8 text (give the occupancy CSV: "
                                                 "start_utc,end_utc,occupancy)") from None
            truth = calibrate.truth_windows(segments, args.window)
            result = replay.run(Path(capture), cfg, state / "replay")
            days.append((float(replay.summary(result)["visitors"]), calibrate.entries(segments)))
            if result.occupancy is not None:
                gate = result.occupancy.thresholds()
            est = {int(parse_iso(r["window_start"])): r["present"]
                   for r in replay.windows(result, args.window)}
            overlap = [w for w in truth if w in est]
            if not overlap:
                raise calibrate.CalibrationError(
                    f"{Path(truth_csv).name}: no window overlaps the capture {Path(capture).name}")
            pairs.extend((est[w], truth[w]) for w in overlap)
            sources.append(f"{Path(capture).name}+{Path(truth_csv).name}")
        fitted = calibrate.fit(pairs, args.window, tuple(sources))
        fitted = replace(fitted, near_rssi_dbm=gate[0], occupied_min_near=gate[1])
        fitted = calibrate.fit_visitors(fitted, days)
    except calibrate.CalibrationError as exc:
        raise UserError(f"{exc} (nothing was stored)") from None
    except CaptureError as exc:
        raise UserError(f"{exc} (give a pcap or pcapng capture)") from None
    path = calibrate.save(state, fitted)
    print(json.dumps(fitted.as_dict()))
    print(f"stored in {path}: estimates now use factor {fitted.factor}", file=sys.stderr)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from agent.simulate.store_day import generate_day  # noqa: PLC0415 -- per-command import, see the docstring

    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        raise UserError(f"--date {args.date!r} is not a date like 2026-11-26") from None
    try:  # the generator checks store, scale and time zone before it writes anything
        files = generate_day(Path(args.out), day, seed=args.seed, store=args.store, timezone=args.timezone,
                             scale=args.scale, phones=args.phones)
    except ZoneInfoNotFoundError:
        raise UserError(f"--timezone {args.timezone!r} is not an IANA time zone like Europe/Prague") from None
    except ValueError as exc:
        raise UserError(f"{exc} (nothing was written)") from None
    for f in (files.pcap, files.pos_csv, files.truth_json):
        print(f)
    return 0


def cmd_enroll(args: argparse.Namespace) -> int:
    from agent.common.tlsfiles import EnrollError  # noqa: PLC0415 -- per-command import, see the docstring
    from agent.enroll import enroll  # noqa: PLC0415 -- per-command import, see the docstring

    if args.config:  # the ids and the state folder from agent.yaml; flags given as well must agree
        cfg = _config(args.config)
        for name in ("org", "store", "agent"):
            given, configured = getattr(args, name), getattr(cfg, name)
            if given and given != configured:
                raise UserError(f"--{name} {given} differs from {name}: {configured} in {args.config} "
                                "(give one of them)")
            setattr(args, name, configured)
        args.dir = args.dir or cfg.state_dir
    if not args.dir:
        print(f"{PROG} enroll: error: --dir (the state folder) or --config agent.yaml is required",
              file=sys.stderr)
        return 2
    if args.install:
        return _install(args)
    if not (args.org and args.store and args.agent):
        print(f"{PROG} enroll: error: --org, --store and --agent are required (or --config agent.yaml, or "
              "--install BUNDLE)", file=sys.stderr)
        return 2
    try:
        done = enroll(Path(args.dir), args.org, args.store, args.agent, new_key=args.new_key)
    except EnrollError as exc:
        raise UserError(str(exc)) from None
    except ValueError as exc:  # a key file that is not PEM
        raise UserError(f"{args.dir}/gateway.key: {exc} (move it aside, or enroll with --new-key)") from None
    made = "new keys" if done.new_key else "existing keys kept"
    print(f"{done.csr_path}: request for {done.cn} ({made}: {done.key_path} and gateway-sign.key, "
          "mode 0600, stay here)")
    print(f"next: on the hub, footfall-hub pki issue {done.csr_path.name} --dir PKI; bring gateway.bundle "
          f"back and run {PROG} enroll --dir {args.dir} --install gateway.bundle")
    return 0


def _install(args: argparse.Namespace) -> int:
    from agent.privacy.bundle import install_bundle  # noqa: PLC0415 -- per-command import (docstring)

    try:
        done = install_bundle(Path(args.dir), Path(args.install))
    except EnrollError as exc:
        raise UserError(str(exc)) from None
    chain = "kept the installed key chain (the same chain: a renewal)" if done.kept_chain else \
        f"key chain {done.keychain} (mode 0600)"
    if done.left_bundle is None:
        print(f"installed the enrolment of {done.cn} in {args.dir}: gateway.crt, ca.crt, {chain}; "
              f"{Path(args.install).name} deleted")
        return 0
    print(f"installed the enrolment of {done.cn} in {args.dir}: gateway.crt, ca.crt, {chain}")
    print(f"{PROG}: warning: could not delete {args.install} ({done.left_bundle}): delete it yourself, it "
          "holds this gateway's first key, which gateway.key opens", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Footfall agent: probe requests to visits and counts.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    p.add_argument("--log-format", choices=FORMATS, default="auto",
                   help="auto (default): journal under systemd, else text; json: one object per line")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("run", help="run the daemon: source -> pipeline -> outbox -> MQTT")
    s.add_argument("--config", help="agent.yaml (defaults when omitted)")
    s.add_argument("--pcap", help="read this capture instead of source.path")
    s.add_argument("--drain-timeout", type=_seconds, default=60.0,
                   help="seconds to wait for the hub's acks after a capture file ends (default 60)")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("replay", help="run a capture offline and print CSV per window (or --summary)")
    s.add_argument("capture", help="pcap or pcapng file")
    s.add_argument("--config", help="agent.yaml for the store's settings")
    s.add_argument("--window", type=_window, default=600, help="window length in seconds (default 600)")
    s.add_argument("--summary", action="store_true", help="print one JSON object for the whole capture")
    s.add_argument("--state", help="a state folder kept across replays (static devices learned over days)")
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("check-config", help="validate agent.yaml without connecting to anything")
    s.add_argument("--config", required=True, help="agent.yaml")
    s.set_defaults(func=cmd_check_config)

    s = sub.add_parser("config", help="print the config with every key, its value and its meaning")
    s.add_argument("--defaults", action="store_true", help="every default (agent/agent.example.yaml)")
    s.add_argument("--config", help="agent.yaml: its effective settings (the file's, defaults for the rest)")
    s.set_defaults(func=cmd_config)

    s = sub.add_parser("doctor", help="check this gateway: interface, capabilities, clock, disk, broker, TLS")
    s.add_argument("--config", help="agent.yaml (defaults when omitted)")
    s.add_argument("--timeout", type=_seconds, default=3.0, help="seconds to wait for the broker (default 3)")
    s.set_defaults(func=cmd_doctor)

    s = sub.add_parser("calibrate",
                       help="fit the store's people-per-device factor from hand-logged occupancy")
    s.add_argument("--pair", nargs=2, action="append", required=True, metavar=("CAPTURE", "TRUTH_CSV"),
                   help="a capture and its occupancy CSV (start_utc,end_utc,occupancy); repeat for more days")
    s.add_argument("--config", help="agent.yaml of the store")
    s.add_argument("--state", help="the store's state folder (default: state_dir of the config)")
    s.add_argument("--window", type=_window, default=600, help="window length in seconds (default 600)")
    s.set_defaults(func=cmd_calibrate)

    s = sub.add_parser("enroll", help="make this gateway's key (0600) and a certificate request for the hub")
    s.add_argument("--config", help="agent.yaml: org, store, agent and state_dir from it")
    s.add_argument("--dir", help="the state folder (default with --config: its state_dir)")
    s.add_argument("--org", help="chain id")
    s.add_argument("--store", help="store id")
    s.add_argument("--agent", help="this gateway's id")
    s.add_argument("--new-key", action="store_true", help="replace the keys (default: keep them, renew only)")
    s.add_argument("--install", metavar="BUNDLE",
                   help="install the bundle footfall-hub pki issue wrote: certificates and key chain")
    s.set_defaults(func=cmd_enroll)

    s = sub.add_parser("simulate", help="write a seeded demo store-day: capture, POS sales, truth")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--date", default="2026-11-26", help="local date of the day (default 2026-11-26)")
    s.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    s.add_argument("--store", default="demo-store", help="store id (default demo-store)")
    s.add_argument("--timezone", default="Europe/Prague", help="store time zone (default Europe/Prague)")
    s.add_argument("--scale", type=float, default=1.0, help="multiply the number of people (default 1)")
    s.add_argument("--phones", choices=("gentle", "real"), default="gentle",
                   help="randomization habits: gentle (the demo's) or real (measured on brno-lab)")
    s.set_defaults(func=cmd_simulate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_format, args.verbose)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a path given that cannot be used (a file where a folder goes, ...): one line
        print(f"{PROG}: error: {path_problem(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
