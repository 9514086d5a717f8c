"""Just enough of the Kafka wire protocol for the local stack, without a client library:
TLS, SASL/SCRAM-SHA-512 (RFC 5802, RFC 7677), ApiVersions, Metadata and the ACL requests.

The stack uses it to ask "is the broker serving requests?" (as its admin user, over the
SASL_SSL listener) and to grant or revoke ACLs. Only non-flexible request versions are
spoken, each chosen from the broker's ApiVersions answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

API_METADATA = 3
API_SASL_HANDSHAKE = 17
API_VERSIONS = 18
API_DESCRIBE_ACLS = 29
API_CREATE_ACLS = 30
API_DELETE_ACLS = 31
API_SASL_AUTHENTICATE = 36

# The enums of the ACL requests (org.apache.kafka.common.acl / resource).
RESOURCE_TYPES = {"any": 1, "topic": 2, "group": 3, "cluster": 4, "transactional_id": 5}
PATTERN_TYPES = {"any": 1, "match": 2, "literal": 3, "prefix": 4}
OPERATIONS = {
    "any": 1, "all": 2, "read": 3, "write": 4, "create": 5, "delete": 6, "alter": 7,
    "describe": 8, "cluster_action": 9, "describe_configs": 10, "alter_configs": 11,
    "idempotent_write": 12,
}  # fmt: skip
PERMISSION_ALLOW = 3
PERMISSION_ANY = 1
ERROR_SASL_AUTHENTICATION_FAILED = 58


class KafkaWireError(Exception):
    """The broker could not be reached, refused us, or answered something we cannot read."""


@dataclass(frozen=True)
class Credentials:
    """How to log in: SASL/SCRAM-SHA-512 as `username`, over TLS trusting `ca_file`."""

    username: str
    password: str = field(repr=False)
    ca_file: str


@dataclass(frozen=True, order=True)
class AclEntry:
    """An allow rule, in the words Kafka's tools use (resource type "topic", pattern
    "literal" or "prefix", operation "read")."""

    principal: str
    resource_type: str
    name: str
    pattern_type: str
    operation: str
    host: str = "*"


# ------------------------------------------------------------------ encoding


def _string(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def _bytes(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


def _array(items: Sequence[bytes]) -> bytes:
    return struct.pack(">i", len(items)) + b"".join(items)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def _take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return int(value)

    def int8(self) -> int:
        return self._take(">b")

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def int64(self) -> int:
        return self._take(">q")

    def string(self) -> str | None:
        size = self.int16()
        if size < 0:
            return None
        raw = self.data[self.at : self.at + size]
        self.at += size
        return raw.decode()

    def bytes_(self) -> bytes:
        size = self.int32()
        if size < 0:
            return b""
        raw = self.data[self.at : self.at + size]
        self.at += size
        return raw


# ------------------------------------------------------------------ connection


class KafkaConnection:
    """One connection to one broker; `call` sends a request and returns its body."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._correlation = 0
        self.versions: dict[int, tuple[int, int]] = {}

    def _recv_exact(self, size: int) -> bytes:
        buf = bytearray()
        while len(buf) < size:
            chunk = self._sock.recv(size - len(buf))
            if not chunk:
                raise KafkaWireError("connection closed by broker")
            buf += chunk
        return bytes(buf)

    def call(self, api_key: int, version: int, body: bytes) -> _Reader:
        self._correlation += 1
        client_id = b"yiwang-infra"
        header = struct.pack(">hhih", api_key, version, self._correlation, len(client_id))
        request = header + client_id + body
        self._sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", self._recv_exact(4))
        reader = _Reader(self._recv_exact(size))
        if reader.int32() != self._correlation:
            raise KafkaWireError("unexpected correlation id")
        return reader

    def version(self, api_key: int, spoken: range) -> int:
        """The newest version of `api_key` that both the broker and this module speak."""
        low, high = self.versions.get(api_key, (-1, -1))
        usable = [v for v in spoken if low <= v <= high]
        if not usable:
            raise KafkaWireError(f"the broker speaks no version of API {api_key} we know")
        return max(usable)

    def api_versions(self) -> None:
        body = self.call(API_VERSIONS, 0, b"")
        error = body.int16()
        if error:
            raise KafkaWireError(f"ApiVersions error code {error}")
        for _ in range(body.int32()):
            key, low, high = body.int16(), body.int16(), body.int16()
            self.versions[key] = (low, high)

    def authenticate(self, credentials: Credentials) -> None:
        """SASL/SCRAM-SHA-512; KafkaWireError if the broker refuses the user."""
        handshake = self.call(API_SASL_HANDSHAKE, 1, _string("SCRAM-SHA-512"))
        error = handshake.int16()
        if error:
            offered = [handshake.string() for _ in range(handshake.int32())]
            raise KafkaWireError(f"SCRAM-SHA-512 not offered (the broker offers {offered})")
        scram = _Scram(credentials.username, credentials.password)
        server_first = self._sasl_step(scram.first())
        server_final = self._sasl_step(scram.final(server_first))
        scram.verify(server_final)

    def _sasl_step(self, token: bytes) -> bytes:
        version = self.version(API_SASL_AUTHENTICATE, range(2))
        body = self.call(API_SASL_AUTHENTICATE, version, _bytes(token))
        error, message, answer = body.int16(), body.string(), body.bytes_()
        if error:
            raise KafkaWireError(f"authentication failed: {message or f'error code {error}'}")
        return answer

    def broker_count(self) -> int:
        """Live brokers in the metadata: none until the broker is registered and unfenced."""
        version = self.version(API_METADATA, range(4, 9))
        # topics=[] (no topic data), allow_auto_topic_creation=false, and for v8 the two
        # include_*_authorized_operations flags.
        body = struct.pack(">ib", 0, 0) + (b"\0\0" if version >= 8 else b"")
        response = self.call(API_METADATA, version, body)
        response.int32()  # throttle
        return response.int32()

    def create_acls(self, entries: Sequence[AclEntry]) -> list[str]:
        """Create allow ACLs (an existing one is left as it is); the errors, one per entry."""
        creations = [
            struct.pack(">b", RESOURCE_TYPES[e.resource_type])
            + _string(e.name)
            + struct.pack(">b", PATTERN_TYPES[e.pattern_type])
            + _string(e.principal)
            + _string(e.host)
            + struct.pack(">bb", OPERATIONS[e.operation], PERMISSION_ALLOW)
            for e in entries
        ]
        body = self.call(
            API_CREATE_ACLS, self.version(API_CREATE_ACLS, range(1, 2)), _array(creations)
        )
        body.int32()  # throttle
        errors = []
        for entry in entries[: body.int32()]:
            code, message = body.int16(), body.string()
            if code:
                errors.append(f"{entry}: {message or f'error code {code}'}")
        return errors

    def delete_acls(self, entries: Sequence[AclEntry]) -> int:
        """Delete exactly these allow ACLs; how many the broker found and deleted."""
        filters = [
            struct.pack(">b", RESOURCE_TYPES[e.resource_type])
            + _string(e.name)
            + struct.pack(">b", PATTERN_TYPES[e.pattern_type])
            + _string(e.principal)
            + _string(e.host)
            + struct.pack(">bb", OPERATIONS[e.operation], PERMISSION_ALLOW)
            for e in entries
        ]
        body = self.call(
            API_DELETE_ACLS, self.version(API_DELETE_ACLS, range(1, 2)), _array(filters)
        )
        body.int32()  # throttle
        deleted = 0
        for _ in range(body.int32()):
            code, message = body.int16(), body.string()
            if code:
                raise KafkaWireError(f"DeleteAcls: {message or f'error code {code}'}")
            for _ in range(body.int32()):
                body.int16(), body.string(), body.int8(), body.string(), body.int8()
                body.string(), body.string(), body.int8(), body.int8()
                deleted += 1
        return deleted

    def describe_acls(self, principal: str | None = None) -> list[AclEntry]:
        """Every allow ACL (of `principal`, if given)."""
        names = {v: k for k, v in RESOURCE_TYPES.items()}
        patterns = {v: k for k, v in PATTERN_TYPES.items()}
        operations = {v: k for k, v in OPERATIONS.items()}
        query = (
            struct.pack(">b", RESOURCE_TYPES["any"])
            + _string(None)
            + struct.pack(">b", PATTERN_TYPES["any"])
            + _string(principal)
            + _string(None)
            + struct.pack(">bb", OPERATIONS["any"], PERMISSION_ANY)
        )
        body = self.call(API_DESCRIBE_ACLS, self.version(API_DESCRIBE_ACLS, range(1, 2)), query)
        body.int32()  # throttle
        code, message = body.int16(), body.string()
        if code:
            raise KafkaWireError(f"DescribeAcls: {message or f'error code {code}'}")
        found = []
        for _ in range(body.int32()):
            kind, name, pattern = body.int8(), body.string() or "", body.int8()
            for _ in range(body.int32()):
                who, host, operation, permission = (
                    body.string(),
                    body.string(),
                    body.int8(),
                    body.int8(),
                )
                if permission == PERMISSION_ALLOW:
                    found.append(
                        AclEntry(who or "", names.get(kind, str(kind)), name,
                                 patterns.get(pattern, str(pattern)),
                                 operations.get(operation, str(operation)), host or "*")
                    )  # fmt: skip
        return found


@contextmanager
def connect(
    host: str, port: int, credentials: Credentials | None = None, *, timeout: float = 5.0
) -> Iterator[KafkaConnection]:
    """A connection, over TLS and logged in when `credentials` are given (SASL_SSL), else
    PLAINTEXT. Raises KafkaWireError, or OSError/ssl.SSLError for the network and TLS."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        raw.settimeout(timeout)
        if credentials is None:
            connection = KafkaConnection(raw)
            connection.api_versions()
            yield connection
            return
        context = ssl.create_default_context(cafile=credentials.ca_file)
        with context.wrap_socket(raw, server_hostname=host) as tls:
            connection = KafkaConnection(tls)
            connection.api_versions()
            connection.authenticate(credentials)
            yield connection


# ------------------------------------------------------------------ SCRAM


class _Scram:
    """The client side of SCRAM-SHA-512 (RFC 5802), as Kafka's ScramSaslServer expects."""

    def __init__(self, username: str, password: str) -> None:
        name = username.replace("=", "=3D").replace(",", "=2C")
        self._password = password.encode()
        self._nonce = base64.b64encode(os.urandom(24)).decode()
        self._first_bare = f"n={name},r={self._nonce}"
        self._auth_message = ""
        self._salted = b""

    def first(self) -> bytes:
        return f"n,,{self._first_bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        text = server_first.decode()
        fields = dict(item.split("=", 1) for item in text.split(","))
        nonce, salt, iterations = fields["r"], base64.b64decode(fields["s"]), int(fields["i"])
        if not nonce.startswith(self._nonce):
            raise KafkaWireError("SCRAM: the server's nonce does not extend ours")
        self._salted = hashlib.pbkdf2_hmac("sha512", self._password, salt, iterations)
        without_proof = f"c=biws,r={nonce}"
        self._auth_message = f"{self._first_bare},{text},{without_proof}"
        client_key = hmac.digest(self._salted, b"Client Key", "sha512")
        stored_key = hashlib.sha512(client_key).digest()
        signature = hmac.digest(stored_key, self._auth_message.encode(), "sha512")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> None:
        fields = dict(item.split("=", 1) for item in server_final.decode().split(","))
        if "e" in fields:
            raise KafkaWireError(f"SCRAM: {fields['e']}")
        server_key = hmac.digest(self._salted, b"Server Key", "sha512")
        expected = hmac.digest(server_key, self._auth_message.encode(), "sha512")
        if not hmac.compare_digest(base64.b64decode(fields.get("v", "")), expected):
            raise KafkaWireError("SCRAM: the server's signature does not match")
