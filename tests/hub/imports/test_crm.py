"""CRM import: members, consent, member keys instead of MACs, withdrawal, and the member secret."""

from __future__ import annotations

import hashlib
import hmac
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hub.config import DatabaseConfig, HubConfig, TrustConfig
from hub.imports import ImportFileError, importer
from hub.optout import settings
from hub.pki.registry import optout_secret
from hub.store.sql import Db, open_database

MACS = [bytes.fromhex("001b63a1b2c3"), bytes.fromhex("f4f5e8123456"), bytes.fromhex("3c22fb0a0b0c")]
CRM = f"""\
member_id,segment,tier,join_date,consent,device_mac
M1,family,gold,2024-05-01,yes,{MACS[0].hex(":")}
M2,student,silver,2025-01-10,yes,{MACS[1].hex("-").upper()}
M3,pro,gold,2023-02-02,no,{MACS[2].hex()}
"""


@pytest.fixture
def config(hub_database: DatabaseConfig) -> HubConfig:
    """The hub's database on each engine (tests/conftest.py); the member secret beside its path."""
    return HubConfig(database=hub_database)


@pytest.fixture
def db(config: HubConfig) -> Iterator[Db]:
    with open_database(config.database) as database:
        yield database


def crm_file(tmp_path: Path, text: str, name: str = "crm.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_consented_macs_become_member_keys(
    db: Db, config: HubConfig, tmp_path: Path
) -> None:
    """A consenting member's MAC becomes HMAC-SHA256(member secret, MAC)[:16]; without consent, no key."""
    result = importer("crm")(db, crm_file(tmp_path, CRM), config)
    assert result.summary() == "crm.csv: 3 rows imported (2 with a consented device)"
    secret = config.member_secret_path().read_bytes()
    key = [hmac.new(secret, mac, hashlib.sha256).digest()[:16].hex() for mac in MACS]
    assert db.execute(
        "SELECT member_id, segment, tier, joined_on, member_key FROM members ORDER BY 1"
    ).fetchall() == [
        ("M1", "family", "gold", "2024-05-01", key[0]),
        ("M2", "student", "silver", "2025-01-10", key[1]),
        ("M3", "pro", "gold", "2023-02-02", None),
    ]


def test_the_member_secret_is_a_private_file_made_once(
    config: HubConfig, db: Db, tmp_path: Path
) -> None:
    """The secret is created on first use with mode 0600 and reused (keys stay stable)."""
    importer("crm")(db, crm_file(tmp_path, CRM), config)
    path = config.member_secret_path()
    first = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(first) == 32
    importer("crm")(db, crm_file(tmp_path, CRM + "M4,,,,no,\n", "crm2.csv"), config)
    assert path.read_bytes() == first


def test_no_raw_mac_reaches_the_database_files(tmp_path: Path) -> None:
    """The db, its WAL and shared memory hold no MAC of the import in any text form nor as bytes
    (SQLite's files)."""
    config = HubConfig(database=DatabaseConfig(path=str(tmp_path / "hub.db")))
    with open_database(config.database) as db:
        importer("crm")(db, crm_file(tmp_path, CRM), config)
    blobs = b"".join(p.read_bytes() for p in tmp_path.glob("hub.db*"))
    assert blobs
    for mac in MACS:
        forms = {
            mac.hex(),
            mac.hex(":"),
            mac.hex("-"),
            mac.hex("."),
            f"{mac[:2].hex()}.{mac[2:4].hex()}.{mac[4:].hex()}",
        }
        for form in forms | {f.upper() for f in forms}:
            assert form.encode() not in blobs, form
            assert form.encode("utf-16-le") not in blobs, form
        assert mac not in blobs


def test_withdrawn_consent_removes_the_link_and_member_visits(
    db: Db, config: HubConfig, tmp_path: Path
) -> None:
    """A later export where a member said no: the key is dropped and their member visits deleted."""
    importer("crm")(db, crm_file(tmp_path, CRM), config)
    key = db.execute("SELECT member_key FROM members WHERE member_id = 'M1'").fetchone()[0]
    db.execute("INSERT INTO member_visits VALUES ('brno-1', ?, 1, 2, 1, 'gw-1')", [key])
    later = CRM.replace("2024-05-01,yes", "2024-05-01,no")
    result = importer("crm")(db, crm_file(tmp_path, later, "later.csv"), config)
    assert result.summary() == (
        "later.csv: 1 of 3 rows imported (2 already in the database) (1 with a"
        " consented device; 1 consent withdrawn, device link and member visits removed)"
    )
    assert db.execute("SELECT member_key FROM members WHERE member_id = 'M1'").fetchone() == (None,)
    assert db.execute("SELECT count(*) FROM member_visits").fetchone() == (0,)


def test_reimport_adds_nothing(db: Db, config: HubConfig, tmp_path: Path) -> None:
    """The same file twice: recognised, nothing written."""
    path = crm_file(tmp_path, CRM)
    importer("crm")(db, path, config)
    assert (
        importer("crm")(db, path, config)
        .summary()
        .startswith("crm.csv: nothing imported: this file was already imported at 20")
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "M9,a,b,2024-01-01,yes,00:1b:63:zz:00:01",
            "crm.csv:2: device_mac: is not a MAC address (6 hex pairs, e.g. in the form aa:bb:cc:dd:ee:ff)",
        ),
        ("M9,a,b,01/02/2024,yes,", "crm.csv:2: join_date: '01/02/2024' is not a date (YYYY-MM-DD)"),
        ("M9,a,b,2024-01-01,maybe,", "crm.csv:2: consent: 'maybe' is not yes or no"),
        (",a,b,2024-01-01,no,", "crm.csv:2: member_id: must not be empty"),
        (
            "M9,a,b,2024-01-01,yes,da:11:22:33:44:55",
            "crm.csv:2: device_mac: is a randomized (locally administered) MAC, which the phone changes, so"
            " no gateway can ever match it: give the device's hardware Wi-Fi address",
        ),
        (
            "M9,call re 00-1B-63-A1-B2-C3,b,2024-01-01,no,",
            "crm.csv:2: segment: holds a MAC address, which is personal data; only device_mac may hold one"
            " (never stored)",
        ),
        (
            "001b.63a1.b2c3,a,b,2024-01-01,no,",
            "crm.csv:2: member_id: holds a MAC address, which is personal data; only device_mac may hold"
            " one (never stored)",
        ),
        (  # PostgreSQL cannot store it, so neither engine does
            'M9,"fam\x00ily",b,2024-01-01,no,',
            "crm.csv:2: segment: holds a NUL character (0x00), which a text column cannot store: a damaged"
            " export?",
        ),
    ],
)
def test_bad_rows_are_explained_without_the_mac(
    db: Db, config: HubConfig, tmp_path: Path, row: str, message: str
) -> None:
    """Errors name file, line and column, word for word, and never repeat a MAC; a randomized MAC (which
    can never match) and a MAC written into a free-text column (stored as written) are refused."""
    with pytest.raises(ImportFileError) as err:
        importer("crm")(
            db,
            crm_file(tmp_path, "member_id,segment,tier,join_date,consent,device_mac\n" + row + "\n"),
            config,
        )
    assert str(err.value) == message
    assert db.execute("SELECT count(*) FROM members").fetchone() == (0,)


def test_with_a_pki_consenting_devices_get_the_gateway_key_agents_match_and_lose_it_on_withdrawal(
    db: Db, config: HubConfig, tmp_path: Path
) -> None:
    """With trust.pki_dir, a consenting member's device also gets its gateway key, HMAC-SHA256(opt-out
    secret, MAC)[:16], which the member list sent to agents holds; withdrawn consent takes it off."""
    config = replace(config, trust=TrustConfig(pki_dir=str(tmp_path / "pki")))
    (tmp_path / "pki").mkdir()
    importer("crm")(db, crm_file(tmp_path, CRM), config)
    secret = optout_secret(tmp_path / "pki")
    gateway = [hmac.new(secret, mac, hashlib.sha256).digest()[:16].hex() for mac in MACS]
    assert db.execute("SELECT member_id, gateway_key FROM members ORDER BY 1").fetchall() == [
        ("M1", gateway[0]), ("M2", gateway[1]), ("M3", None)]
    assert settings(config).member_keys == tuple(sorted(gateway[:2]))
    importer("crm")(db, crm_file(tmp_path, CRM.replace(",yes,", ",no,", 1), "crm2.csv"), config)
    assert settings(config).member_keys == (gateway[1],)


def test_campaign_columns_are_kept_for_the_member_s_profile(
    db: Db, config: HubConfig, tmp_path: Path
) -> None:
    """A CRM export's campaign columns travel with the member to the store's view of her (the arrival
    event's profile), as written; a later export updates them; a MAC written into one is refused."""
    from hub.members.profile import campaigns  # noqa: PLC0415 -- the reader of what this test imports

    text = ("member_id,consent,device_mac,Campaign: Spring 2026,campaign_last_offer\n"
            "M1,yes,3c:22:fb:00:00:01,opened,10% off shoes\nM2,no,,,\n")
    importer("crm")(db, crm_file(tmp_path, text), config)
    assert campaigns(db, "M1") == {"campaign_spring_2026": "opened",
                                        "campaign_last_offer": "10% off shoes"}
    assert campaigns(db, "M2") == {}
    later = text.replace("opened", "clicked")
    importer("crm")(db, crm_file(tmp_path, later, "crm2.csv"), config)
    assert campaigns(db, "M1")["campaign_spring_2026"] == "clicked"
    bad = "member_id,consent,device_mac,campaign\nM3,no,,3c:22:fb:00:00:09\n"
    with pytest.raises(ImportFileError, match=r"^crm3.csv:2: campaign: holds a MAC address"):
        importer("crm")(db, crm_file(tmp_path, bad, "crm3.csv"), config)
