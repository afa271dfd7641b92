"""What the agent and the hub both run, apart from the agent's stages: the one place the hub may import
from the agent besides the wire contract (agent/wire). A convention test keeps it so.

- configfile, configdoc: strict YAML config (unknown keys refused, errors with file and line) and the
  annotated `config --defaults` both CLIs print;
- tlsfiles: identity files and modes (0600 secrets), the CN `org/store/agent`, plain MQTT only to
  loopback, the TLS context of both MQTT clients;
- bundle, sealed: the enrolment bundle the hub writes and the gateway opens (its secrets sealed to the
  gateway's key); ratchet: the one-way step of a store's window keys, which both must derive alike;
- sdnotify, logsetup, lifeline: systemd readiness and watchdog, journald or JSON logs, and a thread
  that dies ending its process non-zero;
- recalibrate: the door-count fit of the Wi-Fi factor, used by the agent's calibration and the hub's
  reports alike.

It lives inside the `agent` package (one distribution, two packages) because a gateway installs only
the agent: everything here must run on OpenWrt with the agent's few dependencies. Nothing here imports
an agent stage.
"""
