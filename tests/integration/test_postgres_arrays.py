"""text_array against real PostgreSQL: any text survives the literal, through unnest."""

from __future__ import annotations

import asyncpg
from yiwang.common.postgres import text_array

AWKWARD = [
    [],
    [""],
    ["urban-management", "civil-affairs"],
    ['quote"d', "back\\slash", "com,ma", "{brace}", "sp ace", "NULL", "街道"],
]


async def test_text_arrays_round_trip_through_unnest(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT n, a::text[] AS a FROM unnest($1::text[]) WITH ORDINALITY AS u(a, n)"
            " ORDER BY n",
            [text_array(values) for values in AWKWARD],
        )
    finally:
        await conn.close()
    assert [list(row["a"]) for row in rows] == AWKWARD
