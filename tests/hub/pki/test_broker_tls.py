"""The broker broker-config writes, run for real: who it refuses at the TLS handshake, and why."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta

from hub.pki.ca import CertificateAuthority
from tests.hub.pki.support import Chain, TlsBroker, gateway, tls_probe


def test_a_gateway_with_its_certificate_is_admitted_over_tls_1_2_and_1_3(chain: Chain,
                                                                        broker: TlsBroker) -> None:
    """An enrolled gateway connects (CONNACK 0) whether its TLS stack tops out at 1.2 or speaks 1.3."""
    for top in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        got = tls_probe(broker.port, chain.ca_file, chain.a.cert, chain.a.key, max_version=top)
        assert got == "connack 0"


def test_no_client_certificate_is_refused(chain: Chain, broker: TlsBroker) -> None:
    """A client that trusts the broker but shows no certificate never reaches MQTT."""
    assert tls_probe(broker.port, chain.ca_file) == "TLSV13_ALERT_CERTIFICATE_REQUIRED"


def test_a_certificate_of_another_ca_is_refused(chain: Chain, broker: TlsBroker) -> None:
    """A certificate for a valid gateway name, signed by some other CA (even of the same org), is refused."""
    other = CertificateAuthority.init(chain.root / "other-pki", "acme")
    rogue = gateway(other, chain.root / "rogue", "gw-a")
    assert tls_probe(broker.port, chain.ca_file, rogue.cert, rogue.key) == "TLSV1_ALERT_UNKNOWN_CA"


def test_an_expired_certificate_is_refused(chain: Chain, broker: TlsBroker) -> None:
    """A gateway whose certificate has expired is locked out until it renews."""
    then = datetime.now(UTC) - timedelta(days=400)
    expired = gateway(chain.ca, chain.root / "gw-old", "gw-old", days=30, now=then)
    got = tls_probe(broker.port, chain.ca_file, expired.cert, expired.key)
    assert got == "SSLV3_ALERT_CERTIFICATE_EXPIRED"


def test_a_revoked_certificate_is_refused_after_a_broker_restart(chain: Chain, broker: TlsBroker) -> None:
    """`pki revoke`, broker-config again (the broker reads its copy of the CRL) and a broker restart lock
    a stolen gateway out, and only that gateway."""
    lost = gateway(chain.ca, chain.root / "gw-lost", "gw-lost")
    assert tls_probe(broker.port, chain.ca_file, lost.cert, lost.key) == "connack 0"
    chain.ca.revoke(lost.cn)
    broker.write_config()
    broker.restart()
    assert tls_probe(broker.port, chain.ca_file, lost.cert, lost.key) == "SSLV3_ALERT_CERTIFICATE_REVOKED"
    assert tls_probe(broker.port, chain.ca_file, chain.a.cert, chain.a.key) == "connack 0"


def test_tls_below_1_2_is_refused_by_the_broker(chain: Chain, broker: TlsBroker) -> None:
    """A client offering at most TLS 1.1 (allowed on its side) gets the broker's protocol_version alert."""
    got = tls_probe(broker.port, chain.ca_file, chain.a.cert, chain.a.key, max_version=ssl.TLSVersion.TLSv1_1)
    assert got == "TLSV1_ALERT_PROTOCOL_VERSION"


def test_a_renewed_certificate_is_admitted_and_the_old_one_still_works_until_it_expires(
        chain: Chain, broker: TlsBroker) -> None:
    """Renewal (enroll again, issue again) keeps the key and gives a certificate the broker accepts; the
    previous one stays valid until it expires, so a gateway can switch at any time."""
    old = chain.a.cert.read_bytes()
    renewed = gateway(chain.ca, chain.root / "gw-a", "gw-a")
    assert renewed.cert.read_bytes() != old
    assert tls_probe(broker.port, chain.ca_file, renewed.cert, renewed.key) == "connack 0"
    (chain.root / "old.crt").write_bytes(old)
    assert tls_probe(broker.port, chain.ca_file, chain.root / "old.crt", renewed.key) == "connack 0"
