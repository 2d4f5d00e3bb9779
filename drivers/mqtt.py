"""A small MQTT client for machines, bridges, simulators and the ingest worker, over paho-mqtt 2.x.

It fixes the choices DESIGN.md 4.1 needs once, so every program talks to the broker the same way:
MQTT 5 (a refused publish comes back as a PUBACK reason code), a persistent session under a fixed client id
(QoS 1 messages wait in the broker while the client is away), QoS 1 for everything, a retained last will,
reconnection with exponential back-off, subscriptions re-applied on every connect, and subscriber
handlers that cannot stop the network loop: an exception in one is logged, counted and the message
dropped. Nothing connects until `start()`.

    client = MqttClient(parse_broker_url(url), "bridge-printer-1", will=("mf/north/printer-1/state", b"..."))
    client.subscribe("mf/north/printer-1/cmd", on_command)   # on_command(message: InboundMessage)
    client.start()
    client.publish("mf/north/printer-1/telemetry", payload).wait(5)
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from drivers.broker_url import BrokerAddress

logger = logging.getLogger(__name__)

QOS = 1
NOT_AUTHORIZED = 135  # MQTT 5 reason code a broker answers a publish its ACL denies with
# Refusals that sending the same message again cannot change: not authorized, bad topic name, bad payload.
FINAL_REFUSALS = frozenset({NOT_AUTHORIZED, 0x90, 0x99})


# --- what travels ----------------------------------------------------------------------------------------

def _already_acknowledged() -> None:
    """`InboundMessage.ack` without manual acknowledgement: the client acknowledged after the handler."""


class InboundMessage(NamedTuple):
    """A received message as handlers see it: cheap to build, immutable.

    With `ClientOptions(manual_ack=True)` the broker counts the message as delivered only once `ack()` is
    called (from any thread), e.g. after the row is committed; otherwise `ack` does nothing.
    """

    topic: str
    payload: bytes
    retain: bool
    duplicate: bool  # the broker is resending it (QoS 1): the handler may have seen it before
    ack: Callable[[], object] = _already_acknowledged


Handler = Callable[[InboundMessage], None]


class PublishResult:
    """The broker's answer to one QoS 1 publish: `wait()` for the PUBACK, then read `ok` / `reason_code`.

    A publish made while disconnected is kept by the client and sent after reconnecting; it stays
    pending until then. `error` is set when the client could not even queue it.
    """

    __slots__ = ("topic", "mid", "reason_code", "reason", "error", "_event")

    def __init__(self, topic: str, mid: int) -> None:
        self.topic = topic
        self.mid = mid
        self.reason_code: int | None = None
        self.reason: str | None = None
        self.error: str | None = None
        self._event = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the broker answered (or the publish failed locally); False on timeout."""
        return self._event.wait(timeout)

    @property
    def done(self) -> bool:
        return self._event.is_set()

    @property
    def ok(self) -> bool:
        """Accepted by the broker (reason < 128; 16 'no matching subscribers' is a success)."""
        return self.done and self.error is None and self.reason_code is not None and self.reason_code < 0x80

    @property
    def refused(self) -> bool:
        """Answered with a failure reason, e.g. 135 'not authorized' for a topic the ACL denies."""
        return self.done and self.reason_code is not None and self.reason_code >= 0x80

    @property
    def refused_for_good(self) -> bool:
        """Refused for a reason a retry cannot mend (ACL, topic, payload), not a passing one (busy, quota)."""
        return self.refused and self.reason_code in FINAL_REFUSALS

    def _finish(self, reason_code: int | None, reason: str | None, error: str | None = None) -> None:
        self.reason_code, self.reason, self.error = reason_code, reason, error
        self._event.set()

    def __repr__(self) -> str:
        state = self.error or (f"{self.reason_code} {self.reason}" if self.done else "pending")
        return f"PublishResult({self.topic!r}, mid={self.mid}, {state})"


@dataclass(frozen=True)
class ClientOptions:
    """Tuning with defaults that suit a machine; the ingest may want a larger `max_inflight`."""

    protocol: int = 5  # 5, or 4 for MQTT 3.1.1 (then refused publishes look like successes)
    keepalive_s: int = 30
    session_expiry_s: int = 86_400  # how long the broker keeps the session and its queue while away
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    max_inflight: int = 100  # lowered to the broker's Receive Maximum when it announces one
    max_queued: int = 0  # outgoing messages kept while disconnected; 0 = no limit
    manual_ack: bool = False  # handlers call message.ack() when done, instead of the client after return
    receive_maximum: int = 0  # MQTT 5: unacknowledged messages the broker may send at once; 0 = its default

    def __post_init__(self) -> None:
        if self.protocol not in (4, 5):
            raise ValueError("protocol must be 5 (MQTT 5.0) or 4 (MQTT 3.1.1)")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError("reconnect delays must satisfy 0 < reconnect_min_s <= reconnect_max_s")
        if self.max_inflight < 1 or self.max_queued < 0 or self.keepalive_s < 5 or self.session_expiry_s < 0:
            raise ValueError("max_inflight >= 1, max_queued >= 0, keepalive_s >= 5, session_expiry_s >= 0")
        if not 0 <= self.receive_maximum <= 65_535:
            raise ValueError("receive_maximum must be 0 (broker default) to 65535")


def _never_raises(callback: Callable[..., None]) -> Callable[..., None]:
    """An exception escaping a paho callback would end the network thread: log it instead."""
    @functools.wraps(callback)
    def guarded(*args: object) -> None:
        try:
            callback(*args)
        except Exception:
            logger.exception("MQTT callback %s failed", callback.__name__)
    return guarded


class _DropIdleLoopNoise(logging.Filter):
    """paho logs an ERROR each time its loop runs between a closed socket and the next connect (after a
    clean stop too); the connection's real story is told by the client's own log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_PAHO_NOISE = _DropIdleLoopNoise()


def _paho_logger() -> logging.Logger:
    paho_logger = logging.getLogger(f"{__name__}.paho")
    if _PAHO_NOISE not in paho_logger.filters:
        paho_logger.addFilter(_PAHO_NOISE)
    return paho_logger


# --- the client ------------------------------------------------------------------------------------------

class MqttClient:
    """One connection to the broker under a fixed client id, with a network thread (start/stop)."""

    def __init__(self, address: BrokerAddress, client_id: str, *, will: tuple[str, bytes] | None = None,
                 options: ClientOptions | None = None, on_connect: Callable[[bool], None] | None = None) -> None:
        """`will` is (topic, payload), published retained at QoS 1 when the client vanishes without a clean
        stop. `on_connect(session_present)` runs in the network thread after every successful connect,
        e.g. to publish the current state again; its exceptions are logged, never raised."""
        if not client_id:
            raise ValueError("a persistent session needs a client id")
        self.address = address
        self.client_id = client_id
        self.options = options or ClientOptions()
        self._on_connect_hook = on_connect
        self._subscriptions: dict[str, Handler] = {}
        self._pending: dict[int, PublishResult] = {}
        self._early_acks: dict[int, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._ready = threading.Event()
        self._unconfirmed_subscribes: set[int] = set()  # SUBSCRIBE mids the broker has not answered yet
        self._early_subacks: set[int] = set()  # SUBACKs handled before subscribe() had recorded their mid
        self._started = False
        self._stopping = False
        self.handler_errors = 0
        self.connections = 0  # successful connects so far: a machine compares it to republish its state
        self.refused_publishes = 0
        self.unmatched_messages = 0
        self.last_connect_refusal: str | None = None
        self._client = self._make_client(will)

    def _make_client(self, will: tuple[str, bytes] | None) -> paho.Client:
        v5 = self.options.protocol == 5
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=None if v5 else False,
                             protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
                             manual_ack=self.options.manual_ack)
        client.enable_logger(_paho_logger())
        if self.address.username is not None:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set(ca_certs=self.address.ca_file)  # None: the system's CAs
        if will is not None:
            topic, payload = will
            client.will_set(topic, payload, qos=QOS, retain=True)
        client.reconnect_delay_set(self.options.reconnect_min_s, self.options.reconnect_max_s)
        client.max_inflight_messages_set(self.options.max_inflight)
        client.max_queued_messages_set(self.options.max_queued)
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_publish = self._handle_publish
        client.on_subscribe = self._handle_subscribe
        client.on_message = self._handle_unmatched
        return client

    # --- life cycle ---

    def start(self) -> MqttClient:
        """Start the network thread; it connects, and reconnects with back-off, until `stop()`."""
        if self._started:
            raise RuntimeError("MqttClient already started")
        self._started, self._stopping = True, False
        properties = None
        if self.options.protocol == 5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.options.session_expiry_s
            if self.options.receive_maximum:
                properties.ReceiveMaximum = self.options.receive_maximum
        self._client.connect_async(self.address.host, self.address.port, self.options.keepalive_s,
                                   **({"clean_start": False, "properties": properties} if properties else {}))
        self._client.loop_start()
        return self

    def stop(self) -> None:
        """Disconnect cleanly (no last will; the broker keeps the session) and end the network thread."""
        if not self._started:
            return
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._ready.clear()
        self._started = False
        with self._lock:
            self._early_acks.clear()

    def __enter__(self) -> MqttClient:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> threading.Event:
        """Set while connected (CONNACK accepted); `client.connected.wait(timeout)` to wait for it."""
        return self._connected

    @property
    def ready(self) -> threading.Event:
        """Set while connected and every subscription sent so far is confirmed by the broker (SUBACK).

        Cleared by a `subscribe()` made while connected until its SUBACK arrives, so waiting on it after
        subscribing means the broker will route matching messages to this client."""
        return self._ready

    # --- publishing ---

    def publish(self, topic: str, payload: bytes | str, retain: bool = False,
                expiry_s: int | None = None) -> PublishResult:
        """Queue a QoS 1 publish; the result completes when the broker's PUBACK arrives.

        `expiry_s` (MQTT 5): the broker discards the message if it cannot deliver it within that many
        seconds, e.g. a command to a machine that is away must not run hours later."""
        properties = None
        if expiry_s is not None and self.options.protocol == 5:
            properties = Properties(PacketTypes.PUBLISH)
            properties.MessageExpiryInterval = expiry_s
        info = self._client.publish(topic, payload, qos=QOS, retain=retain, properties=properties)
        result = PublishResult(topic, info.mid)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            result._finish(None, None, "outgoing queue full")
            return result
        with self._lock:  # the PUBACK may already have been handled in the network thread
            early = self._early_acks.pop(info.mid, None)
            if early is None:
                self._pending[info.mid] = result
        if early is not None:
            result._finish(*early)
        return result

    def flush(self, timeout: float) -> bool:
        """Wait until every publish made so far is answered; False if some are still pending at timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            pending = list(self._pending.values())
        return all(result.wait(max(0.0, deadline - time.monotonic())) for result in pending)

    @property
    def pending_publishes(self) -> int:
        with self._lock:
            return len(self._pending)

    # --- subscribing ---

    def subscribe(self, topic_filter: str, handler: Handler) -> None:
        """Subscribe at QoS 1 now (if connected) and after every reconnect; `handler` gets each message.

        A shared subscription (`$share/GROUP/FILTER`) works: messages are matched on FILTER. The handler
        runs in the network thread before the message is acknowledged, so keep it quick. With overlapping
        filters the broker may send a message once per matching subscription, and every copy goes to every
        handler whose filter matches.
        """
        match_filter = _filter_of(topic_filter)
        self._subscriptions[topic_filter] = handler
        self._client.message_callback_add(match_filter, self._guarded(handler))
        if self._connected.is_set():
            self._ready.clear()
            rc, mid = self._client.subscribe([self._subscription(topic_filter)])
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._await_suback(mid)
            # else the connection dropped meanwhile: the reconnect subscribes to everything again

    def _await_suback(self, mid: int) -> None:
        """Record a SUBSCRIBE sent; its SUBACK may already have been handled in the network thread."""
        self._pair_suback(mid, found_in=self._early_subacks, else_into=self._unconfirmed_subscribes)

    def _pair_suback(self, mid: int, *, found_in: set[int], else_into: set[int]) -> None:
        with self._lock:
            if mid in found_in:
                found_in.discard(mid)
            else:
                else_into.add(mid)
            confirmed = not self._unconfirmed_subscribes
        if confirmed and self._connected.is_set():
            self._ready.set()

    def _subscription(self, topic_filter: str) -> tuple[str, SubscribeOptions] | tuple[str, int]:
        if self.options.protocol == 5:  # retained messages only for a new subscription, not a resumed one
            return topic_filter, SubscribeOptions(qos=QOS, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        return topic_filter, QOS

    def _guarded(self, handler: Handler) -> Callable[[paho.Client, object, paho.MQTTMessage], None]:
        manual = self.options.manual_ack

        def deliver(client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
            ack = functools.partial(client.ack, message.mid, message.qos) if manual else _already_acknowledged
            try:
                handler(InboundMessage(message.topic, message.payload, message.retain, bool(message.dup), ack))
            except Exception:
                self.handler_errors += 1
                logger.exception("MQTT handler %s failed on a message on %s; message dropped",
                                 getattr(handler, "__qualname__", handler), message.topic)
                ack()  # a message that breaks the handler would break it again: do not have it redelivered
        return deliver

    # --- paho callbacks (network thread); none of them may raise ---

    @_never_raises
    def _handle_connect(self, client: paho.Client, _userdata: object, flags: paho.ConnectFlags, reason_code,
                        properties: Properties | None) -> None:
        if reason_code.is_failure:
            self.last_connect_refusal = str(reason_code)
            logger.warning("broker %s refused %s: %s", self.address.url(), self.client_id, reason_code)
            return
        self.last_connect_refusal = None
        receive_maximum = getattr(properties, "ReceiveMaximum", None)
        if receive_maximum is not None and receive_maximum < self.options.max_inflight:
            logger.warning("broker accepts %d unacknowledged publishes, the client sends up to %d: lower "
                           "ClientOptions.max_inflight or raise the broker's max_inflight_messages",
                           receive_maximum, self.options.max_inflight)
        self.connections += 1
        self._connected.set()
        logger.info("connected to %s as %s (session %s)", self.address.url(), self.client_id,
                    "resumed" if flags.session_present else "new")
        with self._lock:
            self._unconfirmed_subscribes.clear()
            self._early_subacks.clear()
        if self._subscriptions:
            _rc, mid = client.subscribe([self._subscription(name) for name in list(self._subscriptions)])
            self._await_suback(mid)
        else:
            self._ready.set()
        if self._on_connect_hook is not None:
            try:
                self._on_connect_hook(flags.session_present)
            except Exception:
                logger.exception("on_connect hook of %s failed", self.client_id)

    @_never_raises
    def _handle_connect_fail(self, _client: paho.Client, _userdata: object) -> None:
        logger.warning("cannot reach broker %s; retrying with back-off", self.address.url())

    @_never_raises
    def _handle_disconnect(self, _client: paho.Client, _userdata: object, _flags, reason_code, _properties) -> None:
        self._connected.clear()
        self._ready.clear()
        if self._stopping:
            logger.info("disconnected from %s", self.address.url())
        else:
            logger.warning("lost connection to %s (%s); reconnecting", self.address.url(), reason_code)

    @_never_raises
    def _handle_publish(self, _client: paho.Client, _userdata: object, mid: int, reason_code, _properties) -> None:
        code, name = reason_code.value, str(reason_code)
        with self._lock:
            result = self._pending.pop(mid, None)
            if result is None:
                self._early_acks[mid] = (code, name)
        if code >= 0x80:
            self.refused_publishes += 1
            logger.warning("broker refused publish to %s: %s (%d)", result.topic if result else f"mid {mid}",
                           name, code)
        if result is not None:
            result._finish(code, name)

    @_never_raises
    def _handle_subscribe(self, _client: paho.Client, _userdata: object, mid: int, reason_codes, _properties) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            logger.warning("broker refused subscription(s) (mid %d): %s", mid, ", ".join(refused))
        self._pair_suback(mid, found_in=self._unconfirmed_subscribes, else_into=self._early_subacks)

    @_never_raises
    def _handle_unmatched(self, client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        self.unmatched_messages += 1
        if self.options.manual_ack:
            client.ack(message.mid, message.qos)
        try:
            logger.debug("message on %s matches no handler; dropped", message.topic)
        except UnicodeDecodeError:
            logger.warning("message with a topic that is not UTF-8 dropped")


def _filter_of(topic_filter: str) -> str:
    """The filter messages are matched on: `$share/GROUP/FILTER` -> FILTER."""
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        if len(parts) < 3 or not parts[1] or not parts[2]:
            raise ValueError(f"shared subscription {topic_filter!r} is not $share/GROUP/FILTER")
        return parts[2]
    return topic_filter
