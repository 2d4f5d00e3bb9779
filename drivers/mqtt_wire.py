"""The few MQTT 5 packets a bulk subscriber needs, as bytes: build CONNECT, SUBSCRIBE, PUBACK; read the rest.

Pure functions without I/O (drivers/mqtt_subscriber.py does the socket), so they are tested on bytes alone.
Only what the ingest uses is here: QoS 0 and 1 publishes in, no topic aliases (the client announces none,
so the broker sends full topics), no authentication exchange beyond user name and password.
"""

from __future__ import annotations

import struct

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"  # normal disconnection: no will, the session stays for its expiry
_PROP_SESSION_EXPIRY, _PROP_RECEIVE_MAXIMUM = 0x11, 0x21
_PUBACK = struct.Struct(">BBH")


class ProtocolError(Exception):
    """The broker sent something this client cannot read; the connection is dropped and made again."""


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _text(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack(">H", len(raw)) + raw


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(client_id: str, *, username: str | None, password: str | None, keepalive_s: int,
                   session_expiry_s: int, receive_maximum: int) -> bytes:
    """CONNECT with clean start off, so a persistent session is resumed with its queue."""
    flags = (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    properties = (bytes([_PROP_SESSION_EXPIRY]) + struct.pack(">I", session_expiry_s)
                  + bytes([_PROP_RECEIVE_MAXIMUM]) + struct.pack(">H", receive_maximum))
    body = _text("MQTT") + bytes([5, flags]) + struct.pack(">H", keepalive_s) + varint(len(properties)) + properties
    body += _text(client_id)
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _text(password)
    return _packet(CONNECT << 4, body)


RETAIN_SEND_IF_NEW_SUBSCRIPTION = 1 << 4  # a resumed subscription does not get the retained messages again


def subscribe_packet(packet_id: int, topic_filter: str, qos: int = 1) -> bytes:
    """SUBSCRIBE to one filter; retained messages come only when the subscription is new."""
    options = qos | RETAIN_SEND_IF_NEW_SUBSCRIPTION
    body = struct.pack(">H", packet_id) + b"\x00" + _text(topic_filter) + bytes([options])
    return _packet((SUBSCRIBE << 4) | 2, body)


def pubacks(packet_ids) -> bytes:
    """PUBACKs (success, no properties: the short form) for many messages, one buffer for one send."""
    pack = _PUBACK.pack
    return b"".join([pack(0x40, 2, pid) for pid in packet_ids])


def split_packets(buffer: bytes) -> tuple[list[tuple[int, int, bytes]], bytes]:
    """Whole packets at the front of `buffer` as (type, flags, body), and the incomplete rest."""
    packets, pos, end = [], 0, len(buffer)
    while end - pos >= 2:
        first, length, shift, i = buffer[pos], 0, 0, pos + 1
        while True:
            if i >= end:
                return packets, buffer[pos:]
            digit = buffer[i]
            length |= (digit & 0x7F) << shift
            i += 1
            if digit < 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("remaining length longer than 4 bytes")
        if i + length > end:
            break
        packets.append((first >> 4, first & 0x0F, buffer[i:i + length]))
        pos = i + length
    return packets, buffer[pos:]


def first_packet(buffer: bytes) -> tuple[int, bytes, bytes] | None:
    """(type, body, the bytes after it) of the first packet in `buffer`, or None while it is incomplete."""
    if len(buffer) < 2:
        return None
    try:
        length, pos = read_varint(buffer, 1)
    except ProtocolError:
        if len(buffer) >= 5:
            raise
        return None  # the length itself is not complete yet
    if pos + length > len(buffer):
        return None
    return buffer[0] >> 4, buffer[pos:pos + length], buffer[pos + length:]


def read_varint(body: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(body):
            raise ProtocolError("truncated variable byte integer")
        digit = body[pos]
        value |= (digit & 0x7F) << shift
        pos += 1
        if digit < 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ProtocolError("variable byte integer longer than 4 bytes")


def read_publish(flags: int, body: bytes) -> tuple[bytes, int, bytes]:
    """A PUBLISH body -> (topic bytes, packet id or 0 for QoS 0, payload)."""
    if len(body) < 3:
        raise ProtocolError("PUBLISH too short")
    topic_end = 2 + ((body[0] << 8) | body[1])
    pos = topic_end
    packet_id = 0
    if flags & 0x06:
        packet_id = (body[pos] << 8) | body[pos + 1]
        pos += 2
    if body[pos] < 0x80:  # properties length in one byte: the usual case
        pos += 1 + body[pos]
    else:
        length, pos = read_varint(body, pos)
        pos += length
    if pos > len(body):
        raise ProtocolError("PUBLISH shorter than its header says")
    return body[2:topic_end], packet_id, body[pos:]


def read_connack(body: bytes) -> tuple[bool, int]:
    """CONNACK -> (session present, reason code)."""
    if len(body) < 2:
        raise ProtocolError("CONNACK too short")
    return bool(body[0] & 1), body[1]


def read_suback(body: bytes) -> tuple[int, list[int]]:
    """SUBACK -> (packet id, reason codes)."""
    if len(body) < 3:
        raise ProtocolError("SUBACK too short")
    length, pos = read_varint(body, 2)
    return (body[0] << 8) | body[1], list(body[pos + length:])
