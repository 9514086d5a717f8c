"""The dead-letter desk (死信处理): list, show and replay a `.dlq` topic's records.

    python -m yiwang.common.dead_letters_cli list case.routed.v1
    python -m yiwang.common.dead_letters_cli show case.routed.v1 0:3
    python -m yiwang.common.dead_letters_cli replay case.routed.v1 --offset 0:3 --offset 0:4
    python -m yiwang.common.dead_letters_cli replay case.routed.v1 --since 2026-11-25T08:00:00+08:00
    python -m yiwang.common.dead_letters_cli history case.routed.v1

A topic is named as its origin (`case.routed.v1`) or its dead-letter topic
(`case.routed.v1.dlq`); YIWANG_TOPIC_PREFIX is put in front when it is not there. Kafka
is reached with the environment's settings (KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL,
KAFKA_SASL_*, KAFKA_SSL_CA_FILE), as every Yiwang process does. Exit codes: 0 done,
1 refused (nothing matched, or already replayed), 2 Kafka or a setting is wrong.
See `yiwang.common.dead_letter_replay` for what a replay does and docs/operations.md for
the runbook.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from yiwang.common.dead_letter_replay import (
    DeadLetter,
    DeadLetterDesk,
    DeadLettersRefused,
    Replay,
    dead_letter_topic_of,
    select,
)
from yiwang.common.kafka_security import KafkaSecurityError, kafka_security
from yiwang.common.settings import CommonSettings

PROG = "python -m yiwang.common.dead_letters_cli"
KAFKA_TIMEOUT_SECONDS = 60.0


def _position(text: str) -> tuple[int, int]:
    """`3` (partition 0, as dead-letter topics have one) or `0:3`."""
    partition, _, offset = text.rpartition(":")
    try:
        return int(partition or 0), int(offset)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an offset (3) or partition:offset (0:3)"
        ) from None


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the dead letters with their error headers")
    listing.add_argument("topic", help="origin topic or its .dlq topic")
    listing.add_argument(
        "--since",
        type=_moment,
        help="dead-lettered at or after (ISO 8601; UTC unless it names a zone, e.g. +08:00)",
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = commands.add_parser("show", help="one dead letter: headers, key and value")
    show.add_argument("topic")
    show.add_argument("position", type=_position, help="offset (3) or partition:offset (0:3)")
    replay = commands.add_parser("replay", help="send dead letters back to their origin topic")
    replay.add_argument("topic")
    replay.add_argument("--offset", type=_position, action="append", default=[], dest="offsets")
    replay.add_argument("--ce-id", action="append", default=[], dest="ce_ids")
    replay.add_argument(
        "--since",
        type=_moment,
        help="every dead letter from this time on (ISO 8601; UTC unless it names a zone)",
    )
    replay.add_argument("--all", action="store_true", help="every dead letter of the topic")
    replay.add_argument("--again", action="store_true", help="also those replayed before")
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed")
    replay.add_argument("--operator", default=_whoami(), help="who replays (for the log)")
    replay.add_argument("--note", default="", help="why (for the log), e.g. the fix's ticket")
    history = commands.add_parser("history", help="what was replayed, from the replay log")
    history.add_argument("topic", nargs="?", help="only this topic's replays")
    return top


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _summary(letter: DeadLetter) -> dict[str, str]:
    attrs = letter.attributes
    return {
        "position": f"{letter.partition}:{letter.offset}",
        "dead_lettered_at": letter.timestamp.isoformat(),
        "ce_id": letter.ce_id,
        "ce_type": attrs.get("ce_type", ""),
        "case": attrs.get("ce_subject") or letter.key.decode(errors="replace"),
        "origin": f"{letter.origin_topic}:{attrs.get('dlq_origin_partition', '?')}:"
        f"{attrs.get('dlq_origin_offset', '?')}",
        "consumer_group": attrs.get("dlq_consumer_group", ""),
        "error": letter.error,
        "replay_of": attrs.get("yiwang-replayed-from", ""),
    }


def _print_list(letters: Sequence[DeadLetter], log: Sequence[Replay], *, as_json: bool) -> None:
    replayed = {r.position: r for r in log}
    for letter in letters:
        summary = _summary(letter)
        last = replayed.get(letter.position)
        summary["replayed_at"] = last.replayed_at if last else ""
        if as_json:
            print(json.dumps(summary, ensure_ascii=False))
            continue
        mark = f"  [replayed {last.replayed_at} by {last.operator}]" if last else ""
        if summary["replay_of"]:
            mark += f"  [a replay of {summary['replay_of']}]"
        print(
            f"{summary['position']:>8}  {summary['dead_lettered_at'][:19]}  {summary['ce_type']}"
            f"  ce_id={summary['ce_id']}  case={summary['case']}"
            f"  group={summary['consumer_group']}{mark}\n          {letter.error[:300]}"
        )
    if not as_json:
        print(f"{len(letters)} dead letter(s)", file=sys.stderr)


def _print_one(letter: DeadLetter) -> None:
    print(f"position   {letter.position}")
    print(f"time       {letter.timestamp.isoformat()}")
    print(f"key        {letter.key.decode(errors='replace')}")
    print("headers")
    for name, value in letter.attributes.items():
        print(f"  {name}: {value}")
    print("value")
    try:
        print(json.dumps(json.loads(letter.value), ensure_ascii=False, indent=2))
    except ValueError:
        print(letter.value.decode(errors="replace"))


async def _run(args: argparse.Namespace, settings: CommonSettings) -> int:
    desk = DeadLetterDesk(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        security=kafka_security(settings),
        prefix=settings.topic_prefix,
        replication_factor=settings.kafka_replication_factor,
    )
    prefix = settings.topic_prefix
    if args.command == "history":
        topic = dead_letter_topic_of(args.topic, prefix=prefix) if args.topic else None
        for r in await desk.history(topic):
            print(r.encode().decode())
        return 0
    topic = dead_letter_topic_of(args.topic, prefix=prefix)
    if args.command == "list":
        letters = await desk.read(topic, since=args.since)
        _print_list(letters, await desk.history(topic), as_json=args.json)
        return 0
    if args.command == "show":
        partition, offset = args.position
        found = [
            d for d in await desk.read(topic) if (d.partition, d.offset) == (partition, offset)
        ]
        if not found:
            raise DeadLettersRefused(f"no dead letter at {topic}:{partition}:{offset}")
        _print_one(found[0])
        return 0
    since = datetime.min.replace(tzinfo=UTC) if args.all else args.since
    chosen = select(
        await desk.read(topic), offsets=set(args.offsets), ce_ids=set(args.ce_ids), since=since
    )
    if not chosen:
        raise DeadLettersRefused(f"no dead letter of {topic} matches")
    now = datetime.now(UTC)
    for letter in chosen:
        if letter.stale_signature(now):
            print(
                f"warning: {letter.position} is signed by its sender more than the consumers "
                "accept ago: it will be refused as stale; ask the sender to send it anew",
                file=sys.stderr,
            )
    if args.dry_run:
        for letter in chosen:
            print(f"would replay {letter.position} (ce_id {letter.ce_id}) to {letter.origin_topic}")
        return 0
    replays = await desk.replay(chosen, operator=args.operator, note=args.note, again=args.again)
    for r in replays:
        print(f"replayed {r.position} (ce_id {r.ce_id}) to {r.origin_topic}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = CommonSettings()
        return asyncio.run(asyncio.wait_for(_run(args, settings), KAFKA_TIMEOUT_SECONDS))
    except DeadLettersRefused as exc:
        print(f"yiwang-dead-letters: {exc}", file=sys.stderr)
        return 1
    except KafkaSecurityError as exc:
        print(f"yiwang-dead-letters: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a CLI: one line, not a trace
        print(
            f"yiwang-dead-letters: Kafka did not answer as expected ({type(exc).__name__}: {exc}); "
            "check KAFKA_BOOTSTRAP_SERVERS and the KAFKA_SASL_* settings",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
