"""The retained config payload the hub publishes to each agent (`footfall/v1/{org}/{store}/{agent}/config`).

    {"schema": 1, "optout_keys": ["9f0c...32 hex", ...], "member_keys": ["41d2...32 hex", ...],
     "updated_at": "2026-11-26T10:00:00Z"}

Both lists hold gateway keys, HMAC-SHA256(gateway secret, MAC)[:16] (the gateway secret is the chain's
opt-out secret): `optout_keys` of every opted-out device, `member_keys` of every consenting member's
registered device, whole lists each time (retained: a reconnecting agent gets the latest at once). Keyed
hashes only, never a MAC: the secret reaches gateways only sealed in their enrolment bundle, and the
member secret (whose keys are in the CRM tables) never leaves the hub. `member_keys` may be missing
(a hub before members were published): no member is tagged then.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent.wire.envelope import SCHEMA_VERSION, WireError

_KEY = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """What the hub tells an agent: the opt-out keys and the member keys."""

    optout_keys: tuple[str, ...] = ()
    updated_at: str = ""
    member_keys: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return json.dumps({"schema": SCHEMA_VERSION, "optout_keys": sorted(self.optout_keys),
                           "member_keys": sorted(self.member_keys), "updated_at": self.updated_at},
                          separators=(",", ":")).encode()

    def optout_bytes(self) -> frozenset[bytes]:
        return frozenset(bytes.fromhex(k) for k in self.optout_keys)

    def member_bytes(self) -> frozenset[bytes]:
        return frozenset(bytes.fromhex(k) for k in self.member_keys)

    @staticmethod
    def decode(payload: bytes) -> AgentSettings:
        try:
            obj = json.loads(payload)
            keys, members = obj["optout_keys"], obj.get("member_keys", [])
            lists = isinstance(keys, list) and isinstance(members, list)
            if obj.get("schema") != SCHEMA_VERSION or not lists:
                raise ValueError
            if not all(isinstance(k, str) and _KEY.match(k) for k in [*keys, *members]):
                raise ValueError
            return AgentSettings(tuple(keys), str(obj.get("updated_at", "")), tuple(members))
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            raise WireError("bad_config", "config must hold schema 1, optout_keys and member_keys (lists "
                                          "of 32 hex)") from None
