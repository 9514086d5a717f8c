"""Deferred writes and the outbox's insert as one statement (a data-modifying WITH)."""

from __future__ import annotations

from yiwang.common.postgres.unit_of_work import one_statement


def test_writes_become_parts_of_one_statement_with_their_placeholders_renumbered() -> None:
    statement, args = one_statement(
        [
            ("INSERT INTO a VALUES ($1, $2::text[])", ("x", "{}")),
            ("UPDATE b SET n = $1 WHERE id = $2", (3, "y")),
            ("INSERT INTO outbox SELECT * FROM unnest($1::text[])", (["t"],)),
        ]
    )
    assert statement == (
        "WITH w0 AS (INSERT INTO a VALUES ($1, $2::text[])),"
        " w1 AS (UPDATE b SET n = $3 WHERE id = $4)"
        " INSERT INTO outbox SELECT * FROM unnest($5::text[])"
    )
    assert args == ["x", "{}", 3, "y", ["t"]]


def test_one_write_is_sent_as_it_is() -> None:
    assert one_statement([("DELETE FROM a WHERE id = $1", ("x",))]) == (
        "DELETE FROM a WHERE id = $1",
        ["x"],
    )
