"""`footfall-hub pki ...` and `footfall-hub broker-config`: argparse wiring over hub.pki and hub.brokerconf.

Errors are one line with a remedy and exit code 1, printed here (the PKI's own error type) so that
hub/cli.py only registers these commands. cryptography loads only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.cliargs import date_arg

PROG = "footfall-hub"


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def _run(action: Any) -> Any:
    """Wrap a command so that a PkiError (or a missing file) becomes one line and exit code 1."""
    def run(args: argparse.Namespace) -> int:
        from hub.pki.ca import PkiError  # noqa: PLC0415 -- cryptography loads only when a pki command runs
        from hub.pki.registry import RegistryError  # noqa: PLC0415 -- as above

        try:
            return int(action(args))
        except (PkiError, RegistryError) as exc:
            return _fail(str(exc))
        except OSError as exc:
            return _fail(f"{exc.filename}: {exc.strerror} (check the path and its permissions)")
    return run


def cmd_init(args: argparse.Namespace) -> int:
    from hub.pki.ca import CertificateAuthority  # noqa: PLC0415 -- see the module docstring

    ca = CertificateAuthority.init(Path(args.dir), args.org, days=args.days)
    print(f"CA of org {ca.org} in {args.dir}: ca.key (mode 0600, keep it safe), ca.crt, crl.pem; "
          f"valid until {ca.cert.not_valid_after_utc:%Y-%m-%d}")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    from hub.pki.enrolment import issue_gateway  # noqa: PLC0415 -- see the module docstring

    if args.out and len(args.csr) > 1:
        return _fail("--out names one certificate: give one CSR with it")
    together: dict[str, Any] = {}  # one go: a store's gateways share its keys (hub/pki/chains.py)
    for csr in map(Path, args.csr):
        done = issue_gateway(Path(args.dir), csr, days=args.days, out=Path(args.out) if args.out else None,
                             window_days=args.window_days, keys_from=args.keys_from, together=together)
        print(f"{done.cert_path}: {done.cn}, serial {done.serial:x}, valid until {done.not_after:%Y-%m-%d}; "
              f"{done.bundle_path}: certificates and the store's keys from {done.keys_from} sealed to this "
              f"gateway (copy it to the gateway: footfall-agent enroll --install {done.bundle_path.name}; "
              "it deletes the bundle once installed)")
        if done.keys_from > datetime.now(UTC).date():
            print(f"note: this gateway counts from {done.keys_from}: the store has gateways already, and the "
                  "hub keeps no key of a window that has begun (only the next one's)")
    return 0


def cmd_issue_server(args: argparse.Namespace) -> int:
    from hub.pki.ca import CertificateAuthority  # noqa: PLC0415 -- see the module docstring

    path = CertificateAuthority(Path(args.dir)).issue_server(args.dns, args.ip, days=args.days)
    print(f"{path} and server.key (mode 0600) for {', '.join(args.dns + args.ip)}")
    return 0


def cmd_issue_service(args: argparse.Namespace) -> int:
    from hub.pki.ca import CertificateAuthority  # noqa: PLC0415 -- see the module docstring

    csr = Path(args.csr).read_bytes() if args.csr else None
    path = CertificateAuthority(Path(args.dir)).issue_service(args.name, days=args.days, csr_pem=csr)
    key = "" if csr else f" and {path.with_suffix('.key')} (mode 0600)"
    print(f"{path}{key}: the {args.name} identity")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from hub.pki.ca import CertificateAuthority  # noqa: PLC0415 -- see the module docstring

    for row in CertificateAuthority(Path(args.dir)).revoke(args.what):
        print(f"revoked {row.cn}, serial {row.serial_hex}")
    print(f"{Path(args.dir) / 'crl.pem'} updated; run footfall-hub broker-config again and restart the "
          "broker")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console  # noqa: PLC0415 -- see the module docstring
    from rich.table import Table  # noqa: PLC0415 -- see the module docstring

    from hub.pki.ca import CertificateAuthority  # noqa: PLC0415 -- see the module docstring

    now = datetime.now(UTC)
    table = Table("CN", "Serial", "Not after", "Revoked")
    for row in CertificateAuthority(Path(args.dir)).listing():
        expired = " (expired)" if row.not_after <= now else ""
        table.add_row(row.cn, row.serial_hex, f"{row.not_after:%Y-%m-%dT%H:%M:%SZ}{expired}",
                      "yes" if row.revoked else "no")
    Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140).print(table)
    return 0


def cmd_broker_config(args: argparse.Namespace) -> int:
    from hub.brokerconf import write_broker_config  # noqa: PLC0415 -- see the module docstring

    files = write_broker_config(Path(args.pki), Path(args.out), port=args.port, bind=args.bind,
                                bridge=args.bridge, region=args.region,
                                data_team_arrivals=args.data_team_arrivals)
    print(f"{files.conf} and {files.acl}: run mosquitto -c {files.conf}")
    return 0


def add_commands(sub: Any) -> None:
    """Register `pki` (with its actions) and `broker-config` on the hub's subparsers."""
    pki = sub.add_parser("pki", help="the chain's CA: init, issue, issue-server, issue-service, revoke, list",
                         description="the chain's certificate authority (keys mode 0600)")
    actions = pki.add_subparsers(dest="pki_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--dir", required=True, metavar="PKI", help="the CA's folder")
        p.set_defaults(run=_run(run))
        return p

    def days(p: argparse.ArgumentParser, default: int) -> None:
        p.add_argument("--days", type=int, default=default, help=f"validity in days (default {default})")

    p = action("init", "create the chain's CA: key, certificate and an empty CRL", cmd_init)
    p.add_argument("--org", required=True, help="the chain's org id; only its gateways are signed")
    days(p, 3650)
    p = action("issue", "sign gateways' CSRs (CN org/store/agent); again before expiry to renew", cmd_issue)
    p.add_argument("csr", metavar="CSR", nargs="+", help="the gateway.csr made by footfall-agent enroll; "
                   "several at once share their store's keys (a new store's gateways all start today)")
    p.add_argument("--out", metavar="FILE", help="certificate file (default: the CSR's name with .crt);"
                   " the bundle goes beside it (.bundle)")
    p.add_argument("--window-days", type=int, choices=[1, 7, 30],
                   help="key window of a new store chain (default 1; an existing chain keeps its own)")
    p.add_argument("--keys-from", type=date_arg, metavar="YYYY-MM-DD",
                   help="first day the bundle's keys cover (default: yesterday, UTC, for a store's first "
                   "gateway; later ones start where the hub's future key does)")
    days(p, 365)
    p = action("issue-server", "make the broker's key and certificate", cmd_issue_server)
    p.add_argument("--dns", action="append", default=[], metavar="HOST", help="a host name (repeatable)")
    p.add_argument("--ip", action="append", default=[], metavar="ADDRESS", help="an address (repeatable)")
    days(p, 365)
    p = action("issue-service", "make the hub's or the data team's key and certificate", cmd_issue_service)
    p.add_argument("name", choices=["hub", "data-team", "bridge"],
                   help="the identity (bridge: a regional broker's link to the hub's, docs/chain.md)")
    p.add_argument("--csr", metavar="CSR", help="sign this CSR (CN = NAME) instead of making a key here")
    days(p, 365)
    p = action("revoke", "revoke a certificate by serial, or every one of a CN; rewrites crl.pem", cmd_revoke)
    p.add_argument("what", metavar="SERIAL|CN", help="hex serial as pki list shows it, or a CN")
    action("list", "every certificate issued: CN, serial, expiry, revoked", cmd_list)

    p = sub.add_parser("broker-config", help="write mosquitto.conf and its ACL for the chain's TLS broker",
                       description="write mosquitto.conf and acl: TLS 1.2+, client certificates of the "
                       "chain's CA, CN as username, per-gateway topics, no anonymous access")
    p.add_argument("--pki", required=True, metavar="PKI", help="the CA's folder (pki init, issue-server)")
    p.add_argument("--out", required=True, metavar="DIR", help="where to write mosquitto.conf and acl")
    p.add_argument("--port", type=int, default=8883, help="TLS port (default 8883)")
    p.add_argument("--bind", metavar="ADDRESS", help="listen on this address only (default: all)")
    p.add_argument("--bridge", metavar="HOST:PORT", help="a regional broker: bridge it over TLS to the hub's "
                   "broker at HOST:PORT (needs pki issue-service bridge; docs/chain.md)")
    p.add_argument("--region", default="region", help="the regional broker's name in its bridge's client ids"
                   " (default: region)")
    p.add_argument("--data-team-arrivals", action="store_true",
                   help="let the data-team identity read member arrival events (personal data; default: no)")
    p.set_defaults(run=_run(cmd_broker_config))
