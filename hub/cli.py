"""footfall-hub: a thin CLI over the hub library (sqlite-utils' model).

User errors are one line on stderr with a remedy and exit 1; usage errors exit 2 (argparse).

Each command imports the hub modules it needs inside its function (hence the PLC0415 ignores), so that
`check-config` and `--help` load neither paho, sqlite-utils nor scapy.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from agent import __version__
from agent.common.configfile import path_problem
from agent.common.lifeline import Lifeline
from agent.common.logsetup import FORMATS as LOG_FORMATS
from agent.common.logsetup import setup as setup_logging
from agent.common.sdnotify import Notifier
from hub.cli_imports import add_commands as add_import_commands
from hub.cli_reader import add_commands as add_reader_commands
from hub.cliargs import date_arg as _date
from hub.cliargs import demo_scale_problem, report_dates_problem, rollup_days
from hub.cliargs import store_arg as _store
from hub.config import ConfigError, HubConfig, load_hub_config
from hub.live.cli import add_commands as add_live_commands
from hub.members.cli import add_commands as add_member_commands
from hub.pki.cli import add_commands as add_pki_commands

if TYPE_CHECKING:
    from hub.store.sql import Db

PROG = "footfall-hub"
DEFAULT_CONFIG = "hub.yaml"
COUNTERS_EVERY_S = 60.0

log = logging.getLogger("hub")


class UserError(Exception):
    """An error the user can fix: printed as one line, exit code 1."""


def _config(args: argparse.Namespace) -> HubConfig:
    """hub.yaml as given; without --config, ./hub.yaml when it exists, else every default."""
    path: str | None = args.config
    if path is None:
        path = DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None
    try:
        return load_hub_config(path)
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _database(config: HubConfig, *, readonly: bool = False) -> Db:
    """The hub's database on either engine (hub.store.sql); one line when it cannot be used as it is
    (unreachable, schema behind: the remedy is in the message)."""
    from hub.store.engine import StoreError  # noqa: PLC0415 -- per-command import (docstring)
    from hub.store.sql import open_database  # noqa: PLC0415 -- per-command import (docstring)

    try:
        return open_database(config.database, readonly=readonly)
    except StoreError as exc:
        raise UserError(f"{exc} (database {config.database.where()})") from None


def _no_file(config: HubConfig) -> bool:
    """The SQLite file is missing (a server's database always exists once migrated)."""
    return config.database.engine == "sqlite" and not Path(config.database.path).exists()


def _missing(config: HubConfig) -> UserError:
    return UserError(f"database {config.database.path} does not exist (is the hub ingesting? see {PROG} "
                     "serve)")


def cmd_serve(args: argparse.Namespace) -> int:
    from hub.app import Hub  # noqa: PLC0415 -- paho loads only for serve
    from hub.ingest.mqtt import BrokerUnavailableError  # noqa: PLC0415 -- paho loads only for serve
    from hub.store.engine import StoreError  # noqa: PLC0415 -- per-command import (docstring)

    config = _config(args)
    if args.worker:  # one of several on this machine (systemd/footfall-hub@.service)
        from hub.cliargs import worker_config  # noqa: PLC0415 -- only with --worker
        try:
            config = worker_config(config, args.worker)
        except ValueError as exc:
            raise UserError(f"{exc} (in {args.config or DEFAULT_CONFIG})") from None
    if args.http:  # the live page (hub/live): --http overrides live.http
        import dataclasses  # noqa: PLC0415 -- only with --http

        try:
            config = dataclasses.replace(config, live=dataclasses.replace(config.live, http=args.http))
            config.live.check()
        except ValueError as exc:
            raise UserError(f"--http: {exc} (e.g. --http 127.0.0.1:8080)") from None
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    lifeline = Lifeline(stop).install()  # a thread that dies stops the hub: exit 1, systemd restarts it
    hub = Hub(config)
    try:
        hub.start()
    except ConfigError as exc:
        raise UserError(f"{exc} (in {args.config or DEFAULT_CONFIG})") from None
    except BrokerUnavailableError as exc:
        raise UserError(
            f"{exc} (is mosquitto running? check mqtt.host and mqtt.port in the config)"
        ) from None
    except StoreError as exc:
        raise UserError(f"{exc} (database {config.database.where()})") from None
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    notify = Notifier()  # systemd (Type=notify): ready now, a watchdog ping from this loop, stopping
    notify.ready(f"ingesting from {config.mqtt.host}:{config.mqtt.port}")
    counters_at = time.monotonic() + COUNTERS_EVERY_S
    try:
        while not stop.wait(min(COUNTERS_EVERY_S, notify.ping_every_s)):
            notify.watchdog()
            if time.monotonic() >= counters_at:
                counters_at += COUNTERS_EVERY_S
                log.info("counters: %s", hub.counters.snapshot())
    finally:
        notify.stopping()
        hub.stop()
        lifeline.uninstall()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if lifeline.died:
        raise UserError(f"{lifeline.died}; stopped, to be restarted (systemd does; see the log)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from hub.joins import NoDataError, daily_report  # noqa: PLC0415 -- per-command import (docstring)
    from hub.joins.metrics import NoMetricsError, store_metrics  # noqa: PLC0415 -- per-command import
    from hub.joins.selection import select  # noqa: PLC0415 -- per-command import (docstring)
    from hub.reports import formatter  # noqa: PLC0415 -- per-command import (docstring)

    config = _config(args)
    if problem := report_dates_problem(args):
        raise UserError(problem)
    try:
        sel = select(config, stores=args.store, group=args.group, on=args.date, start=args.start,
                     end=args.end, grain=args.grain)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if _no_file(config):
        raise _missing(config)
    from hub.reports.segment_counts import segment_counts  # noqa: PLC0415 -- per-command import
    from hub.reports.suppression import chosen_k, suppress_report  # noqa: PLC0415 -- per-command import

    k = chosen_k(args.suppress, args.format, config.publish.k)
    db = _database(config, readonly=True)
    try:
        segments = segment_counts(db, config, list(sel.stores), sel.end)  # members by segment
        if args.format == "html":  # its charts need hour and day rows of hub.joins.metrics
            from hub.reports.html import write_page  # noqa: PLC0415 -- per-command import (docstring)

            write_page(db, config, list(sel.stores), sel.start, sel.end, grain=sel.grain, k=k,
                       segments=segments, out=sys.stdout)
            return 0
        report = (daily_report(db, config, sel.stores[0], sel.start) if sel.daily
                  else store_metrics(db, config, list(sel.stores), sel.start, sel.end, sel.grain))
    except (NoDataError, NoMetricsError) as exc:
        raise UserError(f"{exc} (is the hub ingesting? see {PROG} serve)") from None
    finally:
        db.close()
    shown, how = (report, None) if k is None else suppress_report(report, k)
    formatter(args.format)(shown, sys.stdout, how, segments)
    return 0


def cmd_stores(args: argparse.Namespace) -> int:
    from hub.joins.stores import store_summaries  # noqa: PLC0415 -- per-command import (docstring)
    from hub.reports.stores_view import FORMATS as STORE_FORMATS  # noqa: PLC0415 -- per-command import

    config = _config(args)
    if _no_file(config) and not config.stores:
        raise UserError(f"no store configured and no database at {config.database.path} (add stores to "
                        "hub.yaml)")
    db = _database(config, readonly=not _no_file(config))  # the configured stores, before any data
    try:
        stores = store_summaries(db, config)
    finally:
        db.close()
    STORE_FORMATS[args.format](stores, sys.stdout)
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    from hub.agents_view import FORMATS as AGENT_FORMATS  # noqa: PLC0415 -- per-command import (docstring)
    from hub.joins.agents import agent_summaries  # noqa: PLC0415 -- per-command import (docstring)

    config = _config(args)
    if _no_file(config):
        raise _missing(config)
    db = _database(config, readonly=True)
    try:
        agents = agent_summaries(db, args.store)
    finally:
        db.close()
    if not agents:
        whose = f"of store {args.store} " if args.store else ""
        raise UserError(f"no agent {whose}has reported to {config.database.where()} yet (is the hub "
                        f"ingesting? see {PROG} serve)")
    AGENT_FORMATS[args.format](agents, sys.stdout)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import DemoError, run_demo  # noqa: PLC0415 -- scapy (the generator) loads only for the demo

    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        raise UserError("mosquitto is not installed (run ./run demo, or: apt-get install mosquitto)")
    if problem := demo_scale_problem(args.scale):
        raise UserError(problem)
    try:
        return run_demo(Path(args.out) if args.out else None, args.date, seed=args.seed, scale=args.scale,
                        fmt=args.format, out=sys.stdout)
    except DemoError as exc:
        raise UserError(str(exc)) from None


def cmd_optout(args: argparse.Namespace) -> int:
    from hub import optout  # noqa: PLC0415 -- per-command import (docstring)

    if args.action == "add" and not args.mac:
        print(f"{PROG} optout: error: add needs --mac MAC", file=sys.stderr)
        return 2
    config = _config(args)
    if args.action == "add":
        try:
            added = optout.add(config, args.mac)
        except optout.OptoutError as exc:
            raise UserError(f"{exc}; nothing was stored") from None
        print(f"opt-out {'stored' if added.new else 'was stored already'} (raw MAC not kept); "
              f"{added.member_visits_deleted} member visits deleted; {added.total} opt-outs in all")
    try:
        sent = optout.publish(config)
    except optout.BadMacError as exc:
        raise UserError(f"{exc}; nothing was stored") from None
    except optout.OptoutError as exc:
        stored = "the opt-out is stored; " if args.action == "add" else ""
        raise UserError(f"{stored}{exc} (then run: {PROG} optout publish)") from None
    print(f"published the opt-out and member lists to {sent} agents (retained config; they drop opted-out "
          "devices and erase their visits of the current window)")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from hub.store.engine import StoreError, open_store  # noqa: PLC0415 -- per-command import (docstring)

    config = _config(args)
    try:
        version, applied = open_store(config.database).migrate()
    except StoreError as exc:
        raise UserError(f"{exc} (database {config.database.where()})") from None
    done = f"applied: {'; '.join(applied)}" if applied else "up to date"
    print(f"{config.database.where()}: schema version {version} ({done})")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from hub.retention import RetentionError, run_retention  # noqa: PLC0415 -- per-command import (docstring)
    from hub.store.engine import StoreError  # noqa: PLC0415 -- per-command import (docstring)

    config = _config(args)
    try:
        print("\n".join(run_retention(config.database, args.keep_months, dry_run=args.dry_run)))
    except RetentionError as exc:
        raise UserError(str(exc)) from None
    except StoreError as exc:
        raise UserError(f"{exc} (database {config.database.where()})") from None
    return 0


def cmd_rollup(args: argparse.Namespace) -> int:
    from hub.joins.rollup_job import refresh  # noqa: PLC0415 -- per-command import (docstring)
    from hub.store.engine import StoreError  # noqa: PLC0415 -- per-command import (docstring)
    from hub.store.sql import open_database  # noqa: PLC0415 -- per-command import (docstring)

    try:
        days = rollup_days(args.days)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    config = _config(args)
    try:
        with open_database(config.database) as db:
            done = refresh(db, config, days=days)
    except StoreError as exc:
        raise UserError(f"{exc} (database {config.database.where()})") from None
    if done.skipped:
        raise UserError("another rollup pass is running (the serving leader's): try again when it ends")
    print(f"{config.database.where()}: {done.changes_n} changes read, {done.dropped_n} day rollups made"
          f" stale, {done.computed_n} computed (the last {days} closed days)")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    path = args.config or DEFAULT_CONFIG
    if not Path(path).exists():
        raise UserError(f"{path}: no such file (give the hub's config with --config)")
    from hub.preflight import preflight  # noqa: PLC0415 -- per-command import (docstring)

    try:
        config = load_hub_config(path)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    try:
        preflight(config)  # exactly what serve checks before it connects
    except ConfigError as exc:
        raise UserError(f"{exc} (in {path})") from None
    n = len(config.stores)
    print(f"{path}: ok ({n} store{'' if n == 1 else 's'} configured, database {config.database.where()})")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from agent.common.configdoc import render  # noqa: PLC0415 -- per-command import (docstring)

    if args.defaults == bool(args.config):
        raise UserError("say which: --defaults (every default) or --config FILE (its effective settings)")
    config = HubConfig() if args.defaults else _config(args)
    what = "every default" if args.defaults else f"the effective settings of {args.config}"
    print(render(config, f"{PROG} config: {what}, each with its meaning"), end="")
    return 0


def parser() -> argparse.ArgumentParser:
    from hub.reports import FORMATS  # noqa: PLC0415 -- keeps `import hub.cli` free of sqlite3 (via hub.joins)

    ap = argparse.ArgumentParser(prog=PROG, description="The footfall hub: ingest, imports and reports.")
    ap.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    ap.add_argument("--log-format", choices=LOG_FORMATS, default="auto",
                    help="auto (default): journal under systemd, else text; json: one object per line")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--config", metavar="FILE", help=f"hub config (default: ./{DEFAULT_CONFIG} if present)"
        )
        return p

    p = command("serve", "ingest agents' batches from MQTT into the database until SIGTERM or Ctrl-C")
    p.add_argument("--http", metavar="HOST:PORT", help="also serve the live page here (hub.yaml live.http)")
    p.add_argument("--worker", metavar="NAME", help="one of several workers (ingest.shared_group) on this "
                   "machine: NAME goes into its MQTT client ids (systemd: footfall-hub@NAME)")
    p.set_defaults(run=cmd_serve)
    p = command("migrate", "create or upgrade the database's schema (PostgreSQL: numbered migrations, "
                "which serve checks at start)")
    p.set_defaults(run=cmd_migrate)
    p = command("retention", "forget footfall data older than N full months before this UTC month")
    p.add_argument("--keep-months", required=True, metavar="N", help="full months kept before this one")
    p.add_argument("--dry-run", action="store_true", help="say what would go, change nothing")
    p.set_defaults(run=cmd_retention)
    p = command("rollup", "compute the day rollups of the last N closed days that are missing or stale "
                "(serve's leader keeps the last 35; this backfills or serves a hub that does not run)")
    p.add_argument("--days", default="35", metavar="N", help="closed local days, 1 to 3660 (default: 35)")
    p.set_defaults(run=cmd_rollup)
    add_import_commands(command)  # import-pos, import-crm, import-staff (hub/cli_imports.py)
    p = command("report", "footfall joined with sales by store and local hour, day, week or month")
    p.add_argument("--store", action="append", type=_store, help="store id (repeatable)")
    p.add_argument("--group", help="a store group of the config (groups:)")
    p.add_argument("--date", type=_date, help="local date, YYYY-MM-DD (alone: the daily report by hour)")
    p.add_argument("--from", dest="start", type=_date, help="first local date, YYYY-MM-DD")
    p.add_argument("--to", dest="end", type=_date, help="last local date, included (default: --from)")
    p.add_argument("--grain", choices=["hour", "day", "week", "month"],
                   help="period of the rows (default: day; hour with --date)")
    p.add_argument(
        "--format", choices=sorted(FORMATS), default="table", help="output format (default: table)"
    )
    p.add_argument("--suppress", action=argparse.BooleanOptionalAction, help="withhold counts of 1 to k-1 "
                   "devices or members as the feed does (publish.k); default: on for csv and json only")
    p.set_defaults(run=cmd_report)
    p = command("stores", "configured stores and stores in the data: last data, last sale, agents, groups")
    p.add_argument("--format", choices=["json", "table"], default="table",
                   help="output format (default: table)")
    p.set_defaults(run=cmd_stores)
    p = command("agents", "each agent's state, last status, batches by (epoch, seq) and the gaps in them")
    p.add_argument("--store", type=_store, help="only this store's agents")
    p.add_argument("--format", choices=["json", "table"], default="table",
                   help="output format (default: table)")
    p.set_defaults(run=cmd_agents)
    p = sub.add_parser("demo",
                       help="run a seeded store-day through agent, mosquitto and hub; print the report",
                       description="generate a store-day, replay it through the agent, a local mosquitto "
                       "and the hub, import its POS sales and print the daily report")
    p.add_argument("--out", metavar="DIR", help="keep the generated data, databases and state here")
    p.add_argument("--date", type=_date, default=date(2026, 11, 26),
                   help="the store-day (default 2026-11-26)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the day (default 1)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the number of people (default 1)")
    p.add_argument("--format", choices=sorted(FORMATS), default="table",
                   help="report format (default: table)")
    p.set_defaults(run=cmd_demo)
    p = command("optout", "add a device's opt-out (--mac, pseudonymized at once); publish the list to agents")
    p.add_argument("action", choices=["add", "publish"], help="add: store and publish; publish: send again")
    p.add_argument("--mac", help="the device's MAC (add); only its keyed hashes are kept")
    p.set_defaults(run=cmd_optout)
    p = command(
        "check-config", "check a hub config without connecting to anything; exit 0 if valid, 1 if not"
    )
    p.set_defaults(run=cmd_check_config)
    p = command("config", "print the config with every key, its value and its meaning")
    p.add_argument("--defaults", action="store_true", help="every default, instead of a file's settings")
    p.set_defaults(run=cmd_config)
    add_member_commands(command, _store, _date)  # members (hub/members/cli.py)
    add_live_commands(command, _store)  # users, live (hub/live/cli.py)
    add_reader_commands(command)  # reader (hub/cli_reader.py)
    add_pki_commands(sub)  # pki init|issue|issue-server|issue-service|revoke|list, broker-config
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.log_format, args.verbose)
    try:
        if hasattr(args, "run_with_config"):  # imports, members: ValueError is the user's error
            try:
                code: int = args.run_with_config(args, _config(args))
            except ValueError as exc:
                raise UserError(str(exc)) from None
        else:
            code = args.run(args)
        sys.stdout.flush()
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `footfall-hub report ... | head`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:  # a path given that cannot be used (a file where a folder goes, ...): one line
        print(f"{PROG}: error: {path_problem(exc)}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # database.path is not an SQLite file (or a damaged one)
        print(f"{PROG}: error: database {_database_path(args)}: {exc} (is database.path the hub's "
              "database? footfall-hub check-config checks it)", file=sys.stderr)
        return 1
    except Exception as exc:  # PostgreSQL's errors (psycopg loads only for a postgresql:// URL)
        if not type(exc).__module__.startswith("psycopg"):
            raise
        from hub.store.sql import first_line  # noqa: PLC0415 -- per-command import (docstring)

        print(f"{PROG}: error: database {_database_path(args)}: {first_line(exc)} (is the server up? "
              f"{PROG} migrate --config FILE checks it)", file=sys.stderr)
        return 1
    return code


def _database_path(args: argparse.Namespace) -> str:
    try:
        return _config(args).database.where()
    except UserError:
        return "(unknown)"


if __name__ == "__main__":
    sys.exit(main())
