"""Is a Kafka broker serving requests? Asked over the wire protocol, without a client library."""

from __future__ import annotations

import socket
import struct

from .common import fail

# ------------------------------------------------------------ Kafka wire protocol
# Just enough of the protocol to ask "is a broker serving requests?" without a
# client library: ApiVersions v0, then a non-flexible Metadata request whose
# broker list is non-empty only once the broker is registered and unfenced.

API_METADATA = 3
API_VERSIONS = 18


class KafkaProbeError(Exception):
    pass


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise KafkaProbeError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def _kafka_call(
    sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes
) -> bytes:
    client_id = b"yiwang-infra"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    request = header + body
    sock.sendall(struct.pack(">i", len(request)) + request)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    response = _recv_exact(sock, size)
    (got_id,) = struct.unpack_from(">i", response, 0)
    if got_id != correlation_id:
        raise KafkaProbeError("unexpected correlation id")
    return response[4:]


def _metadata_version_range(sock: socket.socket) -> tuple[int, int] | None:
    body = _kafka_call(sock, API_VERSIONS, 0, 1, b"")
    error_code, count = struct.unpack_from(">hi", body, 0)
    if error_code != 0:
        raise KafkaProbeError(f"ApiVersions error code {error_code}")
    for i in range(count):
        key, low, high = struct.unpack_from(">hhh", body, 6 + 6 * i)
        if key == API_METADATA:
            return low, high
    return None


def _broker_count(sock: socket.socket, version: int) -> int:
    # topics=[] (not null: no topic data), allow_auto_topic_creation=false,
    # and for v8 the two include_*_authorized_operations flags.
    body = struct.pack(">ib", 0, 0) + (b"\0\0" if version >= 8 else b"")
    response = _kafka_call(sock, API_METADATA, version, 2, body)
    _throttle_ms, brokers = struct.unpack_from(">ii", response, 0)
    return int(brokers)


def kafka_probe(host: str, port: int, timeout: float = 3.0) -> str | None:
    """None if the broker serves requests and lists at least one live broker, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            versions = _metadata_version_range(sock)
            if versions is None:
                return "broker does not support Metadata requests"
            # Metadata v4..v8 share one non-flexible layout; use the newest of those offered.
            low, high = max(versions[0], 4), min(versions[1], 8)
            if low > high:
                return None  # answers ApiVersions and has no layout we speak: good enough
            if _broker_count(sock, high) < 1:
                return "broker is up but not registered yet"
            return None
    except (OSError, KafkaProbeError, struct.error) as exc:
        return str(exc) or type(exc).__name__


def parse_bootstrap(servers: str) -> list[tuple[str, int]]:
    """'h1:9092,PLAINTEXT://[::1]:9093' -> [('h1', 9092), ('::1', 9093)]."""
    result = []
    for item in servers.split(","):
        item = item.strip().split("://", 1)[-1]
        if not item:
            continue
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            fail(f"cannot parse KAFKA_BOOTSTRAP_SERVERS entry {item!r}: expected host:port")
        result.append((host.strip("[]"), int(port)))
    if not result:
        fail("KAFKA_BOOTSTRAP_SERVERS is empty")
    return result


def kafka_answers(servers: str) -> str | None:
    """None if any bootstrap server answers, else the last reason."""
    reason = "no servers"
    for host, port in parse_bootstrap(servers):
        problem = kafka_probe(host, port)
        if problem is None:
            return None
        reason = f"{host}:{port}: {problem}"
    return reason
