"""drivers.mqtt_wire: the MQTT 5 packets of the bulk subscriber, on bytes alone."""

from __future__ import annotations

import pytest

from drivers import mqtt_wire as wire


def publish_packet(topic: bytes, payload: bytes, packet_id: int = 0, properties: bytes = b"") -> bytes:
    body = len(topic).to_bytes(2, "big") + topic
    if packet_id:
        body += packet_id.to_bytes(2, "big")
    body += wire.varint(len(properties)) + properties + payload
    return bytes([0x32 if packet_id else 0x30]) + wire.varint(len(body)) + body


@pytest.mark.parametrize(("value", "encoded"), [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"),
                                                (16_383, b"\xff\x7f"), (2_097_152, b"\x80\x80\x80\x01")])
def test_variable_byte_integers_round_trip(value, encoded):
    assert wire.varint(value) == encoded
    assert wire.read_varint(encoded, 0) == (value, len(encoded))


def test_connect_asks_for_a_resumed_session_with_its_expiry_and_receive_maximum():
    packet = wire.connect_packet("ingest-1", username="factory", password="s3cret", keepalive_s=30,
                                 session_expiry_s=604_800, receive_maximum=10_000)
    assert packet[0] == 0x10
    length, start = wire.read_varint(packet, 1)
    body = packet[start:]
    assert len(body) == length
    assert body[:7] == b"\x00\x04MQTT\x05"
    assert body[7] == 0xC0, "user name and password, clean start off"
    assert body[8:10] == (30).to_bytes(2, "big")
    assert b"\x11" + (604_800).to_bytes(4, "big") in body and b"\x21" + (10_000).to_bytes(2, "big") in body
    assert body.endswith(b"\x00\x08ingest-1\x00\x07factory\x00\x06s3cret")


def test_subscribe_asks_for_qos_1_and_retained_messages_only_on_a_new_subscription():
    packet = wire.subscribe_packet(1, "mf/#")
    assert packet == b"\x82\x0a\x00\x01\x00\x00\x04mf/#\x11"


def test_pubacks_of_a_batch_are_one_buffer_of_short_pubacks():
    assert wire.pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"


def test_many_packets_in_one_read_are_split_and_the_incomplete_rest_kept():
    first = publish_packet(b"mf/north/printer-1/telemetry", b'{"v":1}', packet_id=7)
    second = publish_packet(b"mf/north/printer-1/state", b"x" * 300, packet_id=8, properties=b"\x01\x01")
    packets, rest = wire.split_packets(first + second + second[:5])
    assert [packet_type for packet_type, _flags, _body in packets] == [wire.PUBLISH, wire.PUBLISH]
    assert rest == second[:5]
    topic, packet_id, payload = wire.read_publish(packets[1][1], packets[1][2])
    assert (topic, packet_id, payload) == (b"mf/north/printer-1/state", 8, b"x" * 300)


def test_a_qos_0_publish_has_no_packet_id():
    packets, _rest = wire.split_packets(publish_packet(b"a/b", b"hello"))
    assert wire.read_publish(packets[0][1], packets[0][2]) == (b"a/b", 0, b"hello")


def test_the_connack_is_read_with_what_came_right_after_it():
    connack = b"\x20\x03\x01\x00\x00"
    following = publish_packet(b"a/b", b"queued", packet_id=1)
    packet_type, body, rest = wire.first_packet(connack + following)
    assert packet_type == wire.CONNACK and rest == following
    assert wire.read_connack(body) == (True, 0)
    assert wire.first_packet(connack[:3]) is None


def test_suback_reason_codes_are_read():
    assert wire.read_suback(b"\x00\x01\x00\x01\x87") == (1, [0x01, 0x87])


def test_a_remaining_length_over_four_bytes_is_a_protocol_error():
    with pytest.raises(wire.ProtocolError):
        wire.split_packets(b"\x30\xff\xff\xff\xff\x01")
