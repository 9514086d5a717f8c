"""An example county department system: consume your work orders, reply, sign your replies.

Plain aiokafka and the standard library, no Yiwang code. Run it with

    DEPARTMENT=civil-affairs DEPARTMENT_SECRET=<from your Yiwang operator> \
    KAFKA_BOOTSTRAP_SERVERS=localhost:9092 python department_consumer.py

What it shows (see docs/department-dispatch.md for the full contract):
- work orders arrive on `dept.<code>.cases.v1` as CloudEvents in binary mode: the type is
  the `ce_type` header, the body is JSON, the key is the case id;
- reminders (`yiwang.dept.work-order-reminder.v1`) come on the same topic;
- a reply goes to `dept.replies.v1` with the same binding, keyed by the case id, and two
  extra headers: `yiwang-department` (your code) and `yiwang-signature`, the hex
  HMAC-SHA256 of the exact record value keyed with your secret. Unsigned or wrongly
  signed replies are rejected and recorded as security events.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

DEPARTMENT = os.environ.get("DEPARTMENT", "civil-affairs")
SECRET = os.environ["DEPARTMENT_SECRET"]
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
PREFIX = os.environ.get("YIWANG_TOPIC_PREFIX", "")  # only if your county uses one
WORK_ORDERS = f"{PREFIX}dept.{DEPARTMENT}.cases.v1"
REPLIES = f"{PREFIX}dept.replies.v1"


def reply_record(order: dict, kind: str, **fields: object) -> tuple[bytes, bytes, list]:
    """Build (key, value, headers) for one reply. reply_id makes a resend harmless."""
    body = {
        "case_id": order["case_id"],
        "work_order_id": order["work_order_id"],
        "reply_id": f"{DEPARTMENT}-{uuid.uuid4().hex}",
        "kind": kind,  # acknowledge | progress | return | resolve | request_assistance
        **fields,
    }
    value = json.dumps(body, ensure_ascii=False).encode()
    signature = hmac.new(SECRET.encode(), value, hashlib.sha256).hexdigest()
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(uuid.uuid4()).encode()),
        ("ce_source", f"/departments/{DEPARTMENT}".encode()),
        ("ce_type", b"yiwang.dept.reply.v1"),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("ce_subject", order["case_id"].encode()),
        ("content-type", b"application/json"),
        ("yiwang-department", DEPARTMENT.encode()),
        ("yiwang-signature", signature.encode()),
    ]
    return order["case_id"].encode(), value, headers


async def main() -> None:
    consumer = AIOKafkaConsumer(
        WORK_ORDERS,
        bootstrap_servers=BOOTSTRAP,
        group_id=f"{DEPARTMENT}-case-system",
        enable_auto_commit=False,  # commit only after the order is safely in your system
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True)
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
