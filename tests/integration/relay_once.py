"""Run the outbox relay of one schema until its backlog is empty (a separate process, so a
test can kill it at a crash point and start it again)."""

from __future__ import annotations

import asyncio
import os
import sys

from yiwang.common.postgres import open_pool
from yiwang.common.postgres.outbox import OutboxRelay
from yiwang.common.producer import EventProducer


async def main(schema: str) -> None:
    pool = await open_pool(
        dsn=os.environ["DATABASE_URL"], schema=schema, application_name="relay-once"
    )
    producer = EventProducer(
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], client_id="relay-once"
    )
    await producer.start()
    try:
        relay = OutboxRelay(pool=pool, producer=producer, service="test", schema=schema)
        while await relay.publish_pending():
            pass
    finally:
        await producer.stop()
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
