"""Doctor's identity checks: the enrolment against the config (files), then a real session with the broker.

`session` connects exactly as `run` will (the gateway's TLS files, MQTT 5), under a client id of its own
so that a running agent keeps its session, and subscribes to the gateway's own ack and config topics:
the broker's answer shows what no file check can (its certificate and name, whether it admits this
certificate, and a refused subscription where the broker says so; mosquitto grants a subscription its
ACL denies and then delivers nothing, so the CN-against-config check is `identity`'s). It publishes
nothing.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

from agent.common.tlsfiles import EnrollError, client_context, identity
from agent.config import AgentConfig
from agent.doctor import Finding
from agent.identity import IdentityError, cert_cn, check_identity, signing_check
from agent.wire.topics import Topics

SERVER_FIX = ("the broker's certificate must come from this chain's CA and name mqtt.host (footfall-hub "
              "pki issue-server --dns HOST --ip ADDRESS, then broker-config again)")


def check_enrolment(cfg: AgentConfig) -> Finding:
    try:
        cn = check_identity(cfg)
    except IdentityError as exc:
        return Finding("identity", False, str(exc))
    if cn is None:
        return Finding("identity", True, "no certificate configured or installed (see tls)")
    return Finding("identity", True, f"the certificate's CN {cn} is org/store/agent of the config")


def check_signing(cfg: AgentConfig) -> Finding:
    try:
        return Finding("signing", True, signing_check(cfg))
    except IdentityError as exc:
        return Finding("signing", False, str(exc))


def _connect_failed(exc: OSError, where: str) -> Finding:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Finding("session", False, f"{where}: the broker's certificate fails: {exc.verify_message}",
                       SERVER_FIX)
    return Finding("session", False, f"{where}: TLS handshake failed: {exc}",
                   "check that mqtt.port is the broker's TLS listener (8883) and the files are this chain's")


def check_session(cfg: AgentConfig, timeout_s: float = 3.0) -> Finding:
    """Connect with TLS as this gateway, subscribe to its ack and config topics, disconnect."""
    import paho.mqtt.client as mqtt  # noqa: PLC0415 -- doctor alone among the checks needs paho
    from paho.mqtt.enums import CallbackAPIVersion  # noqa: PLC0415 -- as above

    paths = cfg.mqtt.tls.paths(cfg.state_path)
    if paths is None:
        return Finding("session", True, "no TLS configured: nothing to prove beyond the broker check")
    try:
        ctx = client_context(*paths)
    except EnrollError as exc:
        return Finding("session", False, str(exc))
    topics, cn = Topics(cfg.org, cfg.store, cfg.agent), identity(cfg.org, cfg.store, cfg.agent)
    where = f"{cfg.mqtt.host}:{cfg.mqtt.port}"
    got: dict[str, Any] = {}
    done = threading.Condition()

    def note(key: str, value: Any) -> None:
        with done:
            got[key] = value
            done.notify_all()

    base = cfg.mqtt.client_id or f"footfall-{cfg.org}-{cfg.store}-{cfg.agent}"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{base}-doctor", protocol=mqtt.MQTTv5)
    client.tls_set_context(ctx)
    client.on_connect = lambda _c, _u, _f, rc, _p: note("connack", rc)
    client.on_subscribe = lambda _c, _u, _m, rcs, _p: note("suback", rcs)
    client.on_disconnect = lambda _c, _u, _f, rc, _p: note("closed", rc)
    try:  # the handshake on a socket of our own first: paho leaves a failed one unclosed
        with socket.create_connection((cfg.mqtt.host, cfg.mqtt.port), timeout=timeout_s) as raw, \
                ctx.wrap_socket(raw, server_hostname=cfg.mqtt.host):
            pass
        client.connect(cfg.mqtt.host, cfg.mqtt.port, keepalive=max(5, int(timeout_s) + 2))
    except OSError as exc:
        return _connect_failed(exc, where)
    client.loop_start()
    try:
        with done:
            done.wait_for(lambda: "connack" in got or "closed" in got, timeout_s)
            rc = got.get("connack")
            if rc is None or rc.is_failure:
                why = f"refused the connection: {rc}" if rc is not None else (
                    "closed the connection before admitting it" if "closed" in got else "did not answer")
                return Finding("session", False, f"{where} {why} (certificate {paths[1].name})",
                               "the broker admits only unrevoked, unexpired certificates of its chain's CA: "
                               "renew (enroll, pki issue, enroll --install), or check ca.crt")
            client.subscribe([(topics.ack, 1), (topics.config, 1)])
            done.wait_for(lambda: "suback" in got, timeout_s)
        codes = got.get("suback")
        if codes is None:
            return Finding("session", False, f"{where} admitted this gateway but did not answer its "
                           "subscribe", "check the broker's log")
        refused = [t for t, c in zip((topics.ack, topics.config), codes, strict=False) if c.is_failure]
        if refused:
            return Finding("session", False, f"{where} admitted this certificate but its ACL refuses "
                           f"{', '.join(refused)}: the certificate is not of {cn}",
                           "enrol this gateway under the config's org/store/agent (or fix the config)")
        return Finding("session", True, f"{where}: TLS and an MQTT session admitted with "
                       f"{paths[1].name} (CN {cert_cn(paths[1])})")
    finally:
        client.disconnect()
        client.loop_stop()
