"""The retained config payload the hub publishes to each agent (`footfall/v1/{org}/{store}/{agent}/config`).

    {"schema": 1, "optout_keys": ["9f0c...32 hex", ...], "updated_at": "2026-11-26T10:00:00Z"}

`optout_keys`: HMAC-SHA256(opt-out secret, MAC)[:16] of every opted-out device, the whole list each
time (retained: a reconnecting agent gets the latest at once). Keyed hashes only, never a MAC: the secret
reaches gateways only sealed in their enrolment bundle.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent.wire.envelope import SCHEMA_VERSION, WireError

_KEY = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """What the hub tells an agent: for now, the opt-out keys."""

    optout_keys: tuple[str, ...] = ()
    updated_at: str = ""

    def encode(self) -> bytes:
        return json.dumps({"schema": SCHEMA_VERSION, "optout_keys": sorted(self.optout_keys),
                           "updated_at": self.updated_at}, separators=(",", ":")).encode()

    def optout_bytes(self) -> frozenset[bytes]:
        return frozenset(bytes.fromhex(k) for k in self.optout_keys)

    @staticmethod
    def decode(payload: bytes) -> AgentSettings:
        try:
            obj = json.loads(payload)
            keys = obj["optout_keys"]
            if obj.get("schema") != SCHEMA_VERSION or not isinstance(keys, list):
                raise ValueError
            if not all(isinstance(k, str) and _KEY.match(k) for k in keys):
                raise ValueError
            return AgentSettings(tuple(keys), str(obj.get("updated_at", "")))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise WireError("bad_config", "config must hold schema 1 and optout_keys (32 hex each)") from None
