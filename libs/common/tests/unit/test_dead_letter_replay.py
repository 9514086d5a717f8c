"""What a replay sends and what it selects, without a broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from yiwang.common.dead_letter_replay import (
    REPLAYED_AT,
    REPLAYED_FROM,
    DeadLetter,
    DeadLettersRefused,
    Replay,
    already_replayed,
    dead_letter_topic_of,
    replayed_record,
    select,
)
from yiwang.common.signatures import SIGNATURE_HEADER, SIGNED_AT_HEADER

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def letter(offset: int, ce_id: str, *, at: datetime = T0, extra: tuple = ()) -> DeadLetter:
    return DeadLetter(
        topic="lz.case.routed.v1.dlq",
        partition=0,
        offset=offset,
        timestamp=at,
        key=b"case-1",
        value=b'{"case_id": "case-1"}',
        headers=(
            ("ce_id", ce_id.encode()),
            ("ce_type", b"yiwang.case.routed.v1"),
            ("traceparent", b"00-abc-def-01"),
            ("dlq_error", b"handler failed 5 times: KeyError: 'x'"),
            ("dlq_origin_topic", b"lz.case.routed.v1"),
            ("dlq_origin_offset", b"41"),
            *extra,
        ),
    )


def test_the_replayed_record_is_the_original_with_its_ce_id_and_a_marker() -> None:
    dead = letter(3, "e-3", extra=((REPLAYED_FROM, b"lz.case.routed.v1.dlq:0:1"),))
    record = replayed_record(dead, at=T0)
    assert record.topic == "lz.case.routed.v1"
    assert (record.key, record.value) == (dead.key, dead.value)
    headers = dict(record.headers)
    assert headers["ce_id"] == b"e-3"
    assert headers["traceparent"] == b"00-abc-def-01"
    assert not any(name.startswith("dlq_") for name in headers)
    assert headers[REPLAYED_FROM] == b"lz.case.routed.v1.dlq:0:3"  # the latest, once
    assert [n for n, _ in record.headers].count(REPLAYED_FROM) == 1
    assert headers[REPLAYED_AT] == T0.isoformat().encode()


def test_the_origin_is_the_header_else_the_topic_without_dlq() -> None:
    bare = DeadLetter("lz.dept.replies.v1.dlq", 0, 0, T0, b"", b"", ())
    assert bare.origin_topic == "lz.dept.replies.v1"


@pytest.mark.parametrize(
    ("typed", "prefix", "expected"),
    [
        ("case.routed.v1", "", "case.routed.v1.dlq"),
        ("case.routed.v1.dlq", "", "case.routed.v1.dlq"),
        ("case.routed.v1", "lz.", "lz.case.routed.v1.dlq"),
        ("lz.case.routed.v1.dlq", "lz.", "lz.case.routed.v1.dlq"),
    ],
)
def test_a_topic_is_named_either_way(typed: str, prefix: str, expected: str) -> None:
    assert dead_letter_topic_of(typed, prefix=prefix) == expected


def test_select_by_position_ce_id_or_time() -> None:
    letters = [letter(0, "a"), letter(1, "b", at=T0 + timedelta(hours=1)), letter(2, "c")]
    assert [d.offset for d in select(letters, offsets={(0, 2)})] == [2]
    assert [d.offset for d in select(letters, ce_ids={"a", "c"})] == [0, 2]
    assert [d.offset for d in select(letters, since=T0 + timedelta(minutes=1))] == [1]


def test_select_refuses_what_is_not_there_and_a_selection_of_nothing() -> None:
    letters = [letter(0, "a")]
    with pytest.raises(DeadLettersRefused, match="0:7"):
        select(letters, offsets={(0, 7)})
    with pytest.raises(DeadLettersRefused, match="ce_id zz"):
        select(letters, ce_ids={"zz"})
    with pytest.raises(DeadLettersRefused, match="say which"):
        select(letters)


def test_the_log_says_which_were_replayed() -> None:
    replay = Replay("lz.case.routed.v1.dlq", 0, 1, "b", "lz.case.routed.v1", "t", "ops")
    assert Replay.decode(replay.encode()) == replay
    assert Replay.decode(b"not json") is None
    before = already_replayed([letter(0, "a"), letter(1, "b")], [replay])
    assert list(before) == ["lz.case.routed.v1.dlq:0:1"]


def test_a_signature_older_than_consumers_accept_is_flagged() -> None:
    signed = letter(
        0,
        "a",
        extra=((SIGNATURE_HEADER, b"ff"), (SIGNED_AT_HEADER, T0.isoformat().encode())),
    )
    assert not signed.stale_signature(T0 + timedelta(minutes=1))
    assert signed.stale_signature(T0 + timedelta(hours=1))
    assert not letter(0, "a").stale_signature(T0 + timedelta(days=9))


def test_the_cli_takes_offsets_either_way_and_times_with_a_zone() -> None:
    from yiwang.common.dead_letters_cli import parser

    args = parser().parse_args(
        [
            "replay",
            "case.routed.v1",
            "--offset",
            "3",
            "--offset",
            "0:4",
            "--since",
            "2026-11-25T08:00",
        ]
    )
    assert args.offsets == [(0, 3), (0, 4)]
    assert args.since == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    with pytest.raises(SystemExit):
        parser().parse_args(["replay", "case.routed.v1", "--offset", "three"])
