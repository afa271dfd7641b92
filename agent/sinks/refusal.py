"""Knows when the broker keeps refusing this gateway for who it is, so `run` can stop with one line.

A refusal for identity (MQTT 5 reason codes: not authorized, bad user name or password, banned, client
identifier not valid) on a CONNACK, a SUBACK or a PUBACK, or a TLS alert by which the broker rejects the
gateway's certificate (revoked, expired, of an unknown CA; paho reports those only in its log line, so
`note_log` reads it), does not heal by retrying: the certificate is of another gateway or chain, revoked
or expired, or the broker's ACL does not grant this CN its topics. After `limit` of them
in a row, with no batch acknowledged in between, `reason` says so; the app stops and exits non-zero
(systemd's RestartPreventExitStatus keeps it from retrying in a loop). Anything acknowledged resets it.
"""

from __future__ import annotations

import threading

# MQTT 5 reason codes that name the client, not the network (0x85 client id, 0x86 credentials,
# 0x87 not authorized, 0x8A banned)
IDENTITY_CODES = {0x85: "client identifier not valid", 0x86: "bad user name or password",
                  0x87: "not authorized", 0x8A: "banned"}
# OpenSSL's names of the alerts a broker sends when it rejects the client's certificate
IDENTITY_ALERTS = {"ALERT_CERTIFICATE_REVOKED": "certificate revoked",
                   "ALERT_CERTIFICATE_EXPIRED": "certificate expired", "ALERT_UNKNOWN_CA": "unknown CA",
                   "ALERT_BAD_CERTIFICATE": "bad certificate"}


class Refusals:
    """Counts identity refusals in a row; thread-safe (paho's callbacks and the pump both call it)."""

    def __init__(self, what: str, limit: int = 3) -> None:
        self.what, self.limit = what, limit
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._last = ""
        self.reason: str | None = None

    def note(self, packet: str, code: int) -> None:
        """A CONNACK, SUBACK or PUBACK with a failure `code`; only identity codes count."""
        name = IDENTITY_CODES.get(code)
        if name is not None:
            self._count(f"{packet} {name} (0x{code:02X})")

    def note_log(self, message: str) -> None:
        """A line of paho's log: a TLS alert rejecting our certificate counts."""
        for alert, name in IDENTITY_ALERTS.items():
            if alert in message:
                self._count(f"TLS alert {name}")
                return

    def _count(self, what: str) -> None:
        with self._lock:
            self._in_a_row += 1
            self._last = what
            if self._in_a_row >= self.limit and self.reason is None:
                self.reason = (f"the broker refused {self.what} {self._in_a_row} times in a row, last: "
                               f"{self._last}; check that the certificate in state_dir is this gateway's "
                               "(footfall-agent doctor), not revoked, and that the broker's ACL grants it")

    def ok(self) -> None:
        """Something was acknowledged: the identity works."""
        with self._lock:
            self._in_a_row = 0
