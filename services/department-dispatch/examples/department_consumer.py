"""An example county department system: consume your work orders, reply, sign your replies.

Plain aiokafka and the standard library, no Yiwang code. Run it with

    DEPARTMENT=civil-affairs DEPARTMENT_SIGNING_SECRET="<key id>:<secret>" \
    KAFKA_BOOTSTRAP_SERVERS=localhost:9092 python department_consumer.py

where DEPARTMENT_SIGNING_SECRET is the line your Yiwang operator's
`python -m yiwang.department_dispatch.cli signing-secret civil-affairs` printed. On a
cluster with SASL/SCRAM over TLS also set KAFKA_SECURITY_PROTOCOL=SASL_SSL,
KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD (your department's Kafka user) and
KAFKA_SSL_CA_FILE (the CA that signed the brokers' certificates).

What it shows (see docs/department-dispatch.md for the full contract):
- work orders arrive on `dept.<code>.cases.v1` as CloudEvents in binary mode: the type is
  the `ce_type` header, the body is JSON, the key is the case id;
- reminders (`yiwang.dept.work-order-reminder.v1`) come on the same topic;
- a reply goes to `dept.replies.v1` with the same binding, keyed by the case id, and four
  extra headers: `yiwang-signer` (your code), `yiwang-key-id` (your secret's key id),
  `yiwang-signed-at` (now, RFC 3339 UTC) and `yiwang-signature`, the hex HMAC-SHA256,
  keyed with your secret, of

      "v2\n" + signed-at + "\n" + ce_id + "\n" + hex(key) + "\n" + hex(sha256(value))

  Sign right before sending: a record signed more than 5 minutes before Yiwang reads it
  is refused, as is a record whose ce_id was used before. Unsigned or wrongly signed
  replies are rejected and recorded as security events.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import ssl
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

DEPARTMENT = os.environ.get("DEPARTMENT", "civil-affairs")
KEY_ID, _, SECRET = os.environ["DEPARTMENT_SIGNING_SECRET"].strip().partition(":")
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
PREFIX = os.environ.get("YIWANG_TOPIC_PREFIX", "")  # only if your county uses one
WORK_ORDERS = f"{PREFIX}dept.{DEPARTMENT}.cases.v1"
REPLIES = f"{PREFIX}dept.replies.v1"


def connection() -> dict:
    """Where and how to connect: the brokers, and SASL/SCRAM and TLS if the cluster uses them."""
    options: dict = {"bootstrap_servers": BOOTSTRAP}
    protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=os.environ["KAFKA_SSL_CA_FILE"])
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        options["sasl_mechanism"] = os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
        options["sasl_plain_username"] = os.environ["KAFKA_SASL_USERNAME"]
        options["sasl_plain_password"] = os.environ["KAFKA_SASL_PASSWORD"]
    if protocol != "PLAINTEXT":
        options["security_protocol"] = protocol
    return options


def signature(key: bytes, value: bytes, ce_id: str, signed_at: str) -> str:
    """The hex HMAC-SHA256 of the canonical string, keyed with your secret's UTF-8 bytes."""
    digest = hashlib.sha256(value).hexdigest()
    canonical = f"v2\n{signed_at}\n{ce_id}\n{key.hex()}\n{digest}".encode()
    return hmac.new(SECRET.encode(), canonical, hashlib.sha256).hexdigest()


def reply_record(order: dict, kind: str, **fields: object) -> tuple[bytes, bytes, list]:
    """Build (key, value, headers) for one reply. reply_id makes a resend harmless."""
    body = {
        "case_id": order["case_id"],
        "work_order_id": order["work_order_id"],
        "reply_id": f"{DEPARTMENT}-{uuid.uuid4().hex}",
        "kind": kind,  # acknowledge | progress | return | resolve | request_assistance
        **fields,
    }
    key = order["case_id"].encode()
    value = json.dumps(body, ensure_ascii=False).encode()
    ce_id = str(uuid.uuid4())  # new for every record you send: a repeated ce_id is refused
    now = datetime.now(UTC).isoformat()
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce_id.encode()),
        ("ce_source", f"/departments/{DEPARTMENT}".encode()),
        ("ce_type", b"yiwang.dept.reply.v1"),
        ("ce_time", now.encode()),
        ("ce_subject", order["case_id"].encode()),
        ("content-type", b"application/json"),
        ("yiwang-signer", DEPARTMENT.encode()),
        ("yiwang-key-id", KEY_ID.encode()),
        ("yiwang-signed-at", now.encode()),
        ("yiwang-signature", signature(key, value, ce_id, now).encode()),
    ]
    return key, value, headers


async def main() -> None:
    consumer = AIOKafkaConsumer(
        WORK_ORDERS,
        **connection(),
        group_id=f"{DEPARTMENT}-case-system",
        enable_auto_commit=False,  # commit only after the order is safely in your system
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(**connection(), enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        async for record in consumer:
            headers = {k: v.decode() for k, v in record.headers}
            event = json.loads(record.value)
            if headers.get("ce_type") == "yiwang.dept.work-order-cancelled.v1":
                print(f"withdrawn: {event['work_order_id']} ({event['reason']})")
            elif headers.get("ce_type") == "yiwang.dept.work-order-reminder.v1":
                # Oversight's warning (催办), yellow or red card for an order you hold.
                print(f"{event['kind']}: {event['work_order_id']} due {event['deadline']}")
            elif headers.get("ce_type") == "yiwang.dept.work-order.v1":
                print(f"{event['role']} order {event['work_order_id']}: {event['title']}")
                print(
                    f"  sign for it by {event.get('response_due')}, resolve by {event['deadline']}"
                )
                if event.get("ruling_id"):
                    print("  the county hub's ruling (终审) names you: it cannot be returned")
                # Sign for it (签收). Your staff would later send progress and resolve, e.g.
                # reply_record(event, "resolve", result="...", evidence_urls=["https://..."]).
                key, value, headers = reply_record(event, "acknowledge", note="签收")
                await producer.send_and_wait(REPLIES, value, key=key, headers=headers)
            await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main())
