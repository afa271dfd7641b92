"""CRM members from CSV: member id, segment, tier, join date, consent, and a registered device MAC.

Only a consenting member's MAC is used, and only in memory: it becomes the member key
HMAC-SHA256(member secret, the MAC's 6 bytes) truncated to 128 bits (32 hex), the key an agent computes
for the same phone (docs/privacy.md). The raw MAC is never stored, logged, or put in an error message.
A member without consent (or whose consent was withdrawn) keeps no member key, and the member visits of
a withdrawn key are deleted. The member secret is a 0600 file beside the database (hub.yaml
`member_secret_file`), created on first use. Re-importing the same file adds nothing; a later export
updates the members it lists.
"""

from __future__ import annotations

import csv
import hmac
import io
import os
import re
import secrets
import time
from datetime import date
from pathlib import Path

from agent.wire.records import iso
from hub.config import HubConfig
from hub.imports.base import NUL_TEXT, ImportFileError, ImportResult, imported_before, read_file, write_all
from hub.imports.header import decode, delimiter, find_columns
from hub.pki.registry import optout_secret
from hub.store.sql import Db

USUAL: dict[str, tuple[str, ...]] = {
    "member_id": ("member_id", "member", "customer_id", "loyalty_id", "id"),
    "segment": ("segment", "customer_segment"),
    "tier": ("tier", "level", "loyalty_tier"),
    "join_date": ("join_date", "joined_on", "joined", "member_since", "signup_date"),
    "consent": ("consent", "device_consent", "wifi_consent", "consented"),
    "device_mac": ("device_mac", "mac", "mac_address", "device"),
}
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0", "withdrawn", ""}
_HEX = re.compile(r"[0-9a-f]{12}")
SECRET_BYTES = 32


def member_secret(path: Path) -> bytes:
    """The chain's member secret: read it, or create it (mode 0600) on first use. Never logged."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(SECRET_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return secret


def mac_bytes(text: str) -> bytes:
    """6 bytes of a MAC in any usual form (aa:bb:.., AA-BB-.., aabb.ccdd.eeff, aabbccddeeff).

    ValueError without the value in its message (the value is personal data)."""
    digits = re.sub(r"[:\-.\s]", "", text.lower())
    if not _HEX.fullmatch(digits):
        raise ValueError("is not a MAC address (6 hex pairs, e.g. in the form aa:bb:cc:dd:ee:ff)")
    return bytes.fromhex(digits)


_MAC_SHAPED = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{2}[:-](?:[0-9a-f]{2}[:-]){4}[0-9a-f]{2}"
                         r"|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})(?![0-9a-f])", re.IGNORECASE)
FREE_TEXT = ("member_id", "segment", "tier")
# CRM campaign columns (`campaign`, `Campaign: spring 2026`, ...) are kept with the member as written, for
# the store's view of a member who arrives (hub/members/profile.py): columns `campaign_*` of `members`
_CAMPAIGN_NAME = re.compile(r"[^a-z0-9]+")
_CAMPAIGN_COLUMN = re.compile(r"campaign[a-z0-9_]{0,52}")  # what campaign_column makes, checked again
MAX_CAMPAIGN_COLUMNS = 20


def device_mac(text: str) -> bytes:
    """mac_bytes of a device's registered MAC, refusing a randomized one (locally administered: bit 0x02
    of the first byte), which the phone replaces per network and over time, so no gateway can ever match
    it (docs/privacy.md). ValueError without the value in its message."""
    mac = mac_bytes(text)
    if mac[0] & 0x02:
        raise ValueError("is a randomized (locally administered) MAC, which the phone changes, so no "
                         "gateway can ever match it: give the device's hardware Wi-Fi address")
    return mac


def mac_shaped(text: str) -> bool:
    """Does free text hold something written like a MAC (aa:bb:cc:dd:ee:ff, aa-bb-.., aabb.ccdd.eeff)?"""
    return _MAC_SHAPED.search(text) is not None


def member_key(secret: bytes, mac: bytes) -> str:
    """HMAC-SHA256(member secret, MAC) truncated to 128 bits, as 32 hex (docs/privacy.md)."""
    return hmac.digest(secret, mac, "sha256")[:16].hex()


# id, segment, tier, joined_on, member key, gateway key (what agents match: hub/optout.py publishes it)
Member = tuple[str, str, str, str | None, str | None, str | None]


def gateway_key(secret: bytes, mac: bytes) -> str:
    """HMAC-SHA256(gateway secret, MAC)[:16] as 32 hex: a device's key on the agents' lists (the gateway
    secret is the chain's opt-out secret, the one gateways hold; agent/wire/settings.py)."""
    return hmac.digest(secret, mac, "sha256")[:16].hex()


def read_members(name: str, text: str, secret: bytes, gateway_secret: bytes | None = None) -> list[Member]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text[: text.find("\n")]))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(f"{name}: the file is empty (expected a header such as "
                              "member_id,segment,tier,join_date,consent,device_mac)") from None
    col = find_columns(name, header, USUAL, required=("member_id",))
    out: list[Member] = []
    first: dict[str, int] = {}
    try:
        for f in reader:
            if not f:
                continue
            line = reader.line_num
            if len(f) != len(header):
                raise ImportFileError(f"{name}:{line}: expected {len(header)} fields ({','.join(header)}),"
                                      f" found {len(f)}")

            def get(fld: str, f: list[str] = f) -> str:
                return f[col[fld]].strip() if fld in col else ""

            for fld in FREE_TEXT:  # stored as written: a MAC there would be a raw MAC on the hub's disk
                if fld in col and mac_shaped(f[col[fld]]):
                    raise ImportFileError(f"{name}:{line}: {header[col[fld]]}: holds a MAC address, which"
                                          " is personal data; only device_mac may hold one (never stored)")
                if fld in col and "\x00" in f[col[fld]]:
                    raise ImportFileError(f"{name}:{line}: {header[col[fld]]}: {NUL_TEXT}")
            member = get("member_id")
            if not member:
                raise ImportFileError(f"{name}:{line}: member_id: must not be empty")
            if member in first:
                raise ImportFileError(f"{name}:{line}: member_id: {member!r} appears twice (first on line"
                                      f" {first[member]})")
            first[member] = line
            joined = get("join_date") or None
            if joined is not None:
                try:
                    date.fromisoformat(joined)
                except ValueError:
                    raise ImportFileError(f"{name}:{line}: join_date: {joined!r} is not a date"
                                          " (YYYY-MM-DD)") from None
            consent = get("consent").lower()
            if consent not in YES | NO:
                raise ImportFileError(f"{name}:{line}: consent: {get('consent')!r} is not yes or no")
            key = gkey = None
            mac = get("device_mac")
            if consent in YES and mac:
                try:
                    raw = device_mac(mac)
                except ValueError as exc:
                    raise ImportFileError(f"{name}:{line}: device_mac: {exc}") from None
                key = member_key(secret, raw)
                gkey = gateway_key(gateway_secret, raw) if gateway_secret is not None else None
                del raw
            out.append((member, get("segment"), get("tier"), joined, key, gkey))
    except csv.Error as exc:
        raise ImportFileError(f"{name}:{reader.line_num}: not valid CSV: {exc}") from None
    return out


def campaign_column(header: str) -> str | None:
    """`members` column of a CRM header naming a campaign (`Campaign: Spring 2026` -> campaign_spring_2026),
    or None for any other header."""
    name = _CAMPAIGN_NAME.sub("_", header.strip().lower()).strip("_")
    return name[:60] if name.startswith("campaign") else None


def read_campaigns(name: str, text: str) -> dict[str, dict[str, str]]:
    """Each member's campaign columns, as written; a MAC-shaped value is refused with its line (the
    column is stored as written: a MAC there would be a raw MAC on the hub's disk)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text[: text.find("\n")]))
    header = next(reader)
    cols = {i: c for i, h in enumerate(header) if (c := campaign_column(h))}
    if len(cols) > MAX_CAMPAIGN_COLUMNS:
        raise ImportFileError(f"{name}: {len(cols)} campaign columns; at most {MAX_CAMPAIGN_COLUMNS} are "
                              "kept")
    if not cols:
        return {}
    ids = find_columns(name, header, USUAL, required=("member_id",))["member_id"]
    out: dict[str, dict[str, str]] = {}
    for f in reader:
        if not f:
            continue
        for i in cols:
            if mac_shaped(f[i]):
                raise ImportFileError(f"{name}:{reader.line_num}: {header[i]}: holds a MAC address, which is"
                                      " personal data; only device_mac may hold one (never stored)")
            if "\x00" in f[i]:
                raise ImportFileError(f"{name}:{reader.line_num}: {header[i]}: {NUL_TEXT}")
        out[f[ids].strip()] = {c: f[i].strip() for i, c in cols.items()}
    return out


def _store_campaigns(db: Db, campaigns: dict[str, dict[str, str]]) -> None:
    """Add the campaign columns `members` lacks (on both engines: a column per campaign, as the CRM
    names them) and write each member's values."""
    names = {c for values in campaigns.values() for c in values}
    if any(not _CAMPAIGN_COLUMN.fullmatch(c) for c in names):  # never reached: campaign_column's names
        raise ValueError(f"not a campaign column name: {sorted(names)}")
    for col in sorted(names - set(db.columns("members"))):
        db.execute(f"ALTER TABLE members ADD COLUMN {col} TEXT")
    for member, values in campaigns.items():
        sets = ", ".join(f"{c} = ?" for c in values)
        db.execute(f"UPDATE members SET {sets} WHERE member_id = ?", [*values.values(), member])


def import_crm(db: Db, path: Path, config: HubConfig, *, progress: bool = False) -> ImportResult:
    """Check the whole file, then upsert its members in one transaction; withdrawn consent unlinks."""
    del progress  # member files are small enough to need no bar
    data, sha = read_file(path)
    before = imported_before(db, path, sha)
    if before is not None:
        return before
    gateway_secret = optout_secret(Path(config.trust.pki_dir)) if config.trust.pki_dir else None
    text = decode(path.name, data)
    members = read_members(path.name, text, member_secret(config.member_secret_path()), gateway_secret)
    campaigns = read_campaigns(path.name, text)
    now = iso(time.time())
    withdrawn = [0]

    def write(db: Db) -> tuple[int, int]:
        changed = 0
        for member, segment, tier, joined, found, found_gateway in members:
            opted_out = db.execute("SELECT 1 FROM optouts WHERE member_key = ?", [found]).fetchone()
            key = None if opted_out else found  # the owner opted out (hub/optout.py): never linked again
            gkey = None if key is None else found_gateway
            writes = 0  # rows this member's statements deleted, added or changed
            old = db.execute("SELECT member_key FROM members WHERE member_id = ?", [member]).fetchone()
            old_key = old[0] if old else None
            if old_key is not None and old_key != key:  # consent withdrawn or device changed: unlink
                withdrawn[0] += key is None
                writes += db.execute("DELETE FROM member_visits WHERE member_key = ?", [old_key]).rowcount
                writes += db.execute("UPDATE members SET member_key = NULL, gateway_key = NULL"
                                     " WHERE member_id = ?", [member]).rowcount
            if key is not None:  # the phone was registered to someone else before: theirs no more
                writes += db.execute("UPDATE members SET member_key = NULL, gateway_key = NULL"
                                     " WHERE member_key = ? AND member_id != ?", [key, member]).rowcount
            writes += db.execute(
                "INSERT INTO members (member_id, segment, tier, joined_on, member_key, gateway_key,"
                " import_file_sha256, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (member_id)"
                " DO UPDATE SET segment = excluded.segment, tier = excluded.tier,"
                " joined_on = excluded.joined_on, member_key = excluded.member_key,"
                " gateway_key = excluded.gateway_key, import_file_sha256 = excluded.import_file_sha256,"
                " updated_at = excluded.updated_at WHERE (members.segment, members.tier, members.joined_on,"
                " members.member_key, members.gateway_key) IS DISTINCT FROM (excluded.segment,"
                " excluded.tier, excluded.joined_on, excluded.member_key, excluded.gateway_key)",
                (member, segment, tier, joined, key, gkey, sha, now),
            ).rowcount
            changed += writes > 0
        _store_campaigns(db, campaigns)
        return len(members), changed

    rows_n, added = write_all(db, "crm", path, sha, write)
    linked = sum(1 for m in members if m[4] is not None)
    note = f"{linked:,} with a consented device"
    if withdrawn[0]:
        note += f"; {withdrawn[0]:,} consent withdrawn, device link and member visits removed"
    return ImportResult(path.name, sha, rows_n, added, note=note)
