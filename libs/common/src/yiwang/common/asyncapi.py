"""The published event contract: an AsyncAPI 3.1 document and a JSON Schema per CloudEvents
type, generated from the topic registry (topics.TOPICS: channels and the types each
carries), who produces and consumes each topic (kafka_acls.ACCESS: operations) and the
payload models (events/).

    python -m yiwang.common.asyncapi write    # docs/asyncapi/ from the code
    python -m yiwang.common.asyncapi check    # exit 1 when docs/asyncapi/ is stale

Every record carries `ce_dataschema: urn:yiwang:schema:<ce_type>`, the `$id` of its
schema (docs/asyncapi/schemas/<ce_type>.json, also served by every service at
/asyncapi/schemas/<ce_type>.json). Each service serves its own part, the channels it
produces or consumes, at /asyncapi.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic.json_schema import models_json_schema
from yiwang.common.access import PUBLIC
from yiwang.common.envelope import dataschema
from yiwang.common.events import Event
from yiwang.common.kafka_acls import ACCESS
from yiwang.common.signatures import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    SIGNED_AT_HEADER,
    SIGNER_HEADER,
)
from yiwang.common.topics import DAY_MS, TOPICS, TopicSpec

ASYNCAPI_VERSION = "3.1.0"
KAFKA_BINDING = "0.5.0"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# In a checkout: <repo>/libs/common/src/yiwang/common/asyncapi.py (write/check use it).
_HERE = Path(__file__).resolve()
DOCS_DIR = (_HERE.parents[5] if len(_HERE.parents) > 5 else _HERE.parent) / "docs" / "asyncapi"

# The CloudEvents Kafka binding, binary mode: the attributes travel as headers.
CLOUDEVENTS_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes, Kafka protocol binding, binary content mode "
    "(consumers also accept structured mode: content-type application/cloudevents+json).",
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "unique per event; inboxes deduplicate on it"},
        "ce_source": {
            "type": "string",
            "description": "the producing service, e.g. /yiwang/intake",
        },
        "ce_type": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "the case id (also the record key)"},
        "ce_dataschema": {"type": "string", "format": "uri"},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
        **{
            name: {
                "type": "string",
                "description": "signed records only (platform submissions, department "
                "replies): an HMAC over value, key, ce_id and the signing time "
                "(docs/security.md)",
            }
            for name in (SIGNER_HEADER, KEY_ID_HEADER, SIGNED_AT_HEADER, SIGNATURE_HEADER)
        },
    },
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type"],
}


def event_schema(model: type[Event]) -> dict[str, Any]:
    """A standalone JSON Schema (2020-12) for one type's payload."""
    schema = model.model_json_schema(mode="serialization")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": dataschema(model.event_type),
        "title": model.event_type,
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _channel_id(topic: str) -> str:
    return topic.replace(".", "-")


def _models() -> list[type[Event]]:
    seen: dict[str, type[Event]] = {}
    for spec in TOPICS:
        for model in spec.events:
            seen.setdefault(model.event_type, model)
    return sorted(seen.values(), key=lambda m: m.event_type)


def _message(model: type[Event]) -> dict[str, Any]:
    summary = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    return {
        "name": model.event_type,
        "title": model.__name__,
        **({"summary": summary} if summary else {}),
        "contentType": "application/json",
        "headers": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEventsHeaders"},
                {
                    "type": "object",
                    "properties": {
                        "ce_type": {"type": "string", "const": model.event_type},
                        "ce_dataschema": {"type": "string", "const": dataschema(model.event_type)},
                    },
                },
            ]
        },
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        "correlationId": {"location": "$message.header#/ce_subject"},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "the case id: a case stays on one partition",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _channel(spec: TopicSpec) -> dict[str, Any]:
    access = ACCESS[spec.name]
    described = spec.purpose + (f" ({access.others})" if access.others else "")
    return {
        "address": spec.name,
        "description": described,
        "messages": {
            m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in spec.events
        },
        "bindings": {
            "kafka": {
                "topic": spec.name,
                "partitions": spec.partitions,
                "topicConfiguration": {"retention.ms": spec.retention_days * DAY_MS},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _operations(spec: TopicSpec, *, services: set[str]) -> dict[str, Any]:
    access = ACCESS[spec.name]
    channel = _channel_id(spec.name)
    found: dict[str, Any] = {}
    for action, who in (("send", access.producers), ("receive", access.consumers)):
        for service in who:
            if service not in services:
                continue
            found[f"{service}-{action}-{channel}"] = {
                "action": action,
                "title": f"{service} {'produces' if action == 'send' else 'consumes'} {spec.name}",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [
                    {"$ref": f"#/channels/{channel}/messages/{m.__name__}"} for m in spec.events
                ],
            }
    return found


@cache
def _component_schemas() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "serialization") for m in _models()], ref_template="#/components/schemas/{model}"
    )
    return {"CloudEventsHeaders": CLOUDEVENTS_HEADERS, **defs["$defs"]}


def document(*, service: str | None = None) -> dict[str, Any]:
    """The whole contract, or one service's part (the channels it produces or consumes)."""
    services = {service} if service else {s for a in ACCESS.values() for s in a.producers}
    services |= set() if service else {s for a in ACCESS.values() for s in a.consumers}
    specs = [
        s
        for s in TOPICS
        if service is None or service in ACCESS[s.name].producers + ACCESS[s.name].consumers
    ]
    messages = {m.__name__: _message(m) for s in specs for m in s.events}
    operations: dict[str, Any] = {}
    for spec in specs:
        operations |= _operations(spec, services=services)
    title = "Yiwang case events" + (f": {service}" if service else "")
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:yiwang:events" + (f":{service}" if service else ""),
        "info": {
            "title": title,
            "version": "1",
            "description": "Case events between Yiwang's services, county platforms and "
            "departments (一网协同). Generated from the code: "
            "python -m yiwang.common.asyncapi write.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "county": {
                "host": "kafka:9093",
                "protocol": "kafka-secure",
                "description": "the county's Kafka: SASL_SSL with SCRAM-SHA-512, one user per "
                "service and per platform or department (docs/operations.md)",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            }
        },
        "channels": {_channel_id(s.name): _channel(s) for s in specs},
        "operations": operations,
        "components": {
            "messages": dict(sorted(messages.items())),
            "schemas": _component_schemas(),
            "securitySchemes": {
                "scram": {"type": "scramSha512", "description": "per-user SCRAM credentials"}
            },
        },
    }


def rendered() -> dict[Path, str]:
    """Every file of docs/asyncapi/, by path, as `write` puts it there."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False) + "\n"

    files = {DOCS_DIR / "asyncapi.json": dump(document())}
    for model in _models():
        files[DOCS_DIR / "schemas" / f"{model.event_type}.json"] = dump(event_schema(model))
    return files


def contract_router(*, service: str) -> APIRouter:
    """/asyncapi.json (this service's part) and the schemas its `ce_dataschema` names."""
    router = APIRouter(tags=["operations"])
    part = document(service=service)
    schemas = {m.event_type: event_schema(m) for m in _models()}

    @router.get("/asyncapi.json", summary="This service's event contract (AsyncAPI 3.1)",
                openapi_extra=PUBLIC)  # fmt: skip
    async def asyncapi() -> JSONResponse:
        return JSONResponse(part)

    @router.get("/asyncapi/schemas/{ce_type}.json", summary="The JSON Schema of one event type",
                openapi_extra=PUBLIC)  # fmt: skip
    async def schema(ce_type: str) -> JSONResponse:
        found = schemas.get(ce_type)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no event type '{ce_type}'")
        return JSONResponse(found)

    return router


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m yiwang.common.asyncapi")
    parser.add_argument("command", choices=("write", "check"))
    args = parser.parse_args(argv)
    files = rendered()
    if args.command == "write":
        for old in (DOCS_DIR / "schemas").glob("*.json"):
            if old not in files:
                old.unlink()
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        print(f"wrote {len(files)} files under {DOCS_DIR}")
        return 0
    stale = [str(p) for p, text in files.items() if not p.exists() or p.read_text("utf-8") != text]
    extra = [str(p) for p in (DOCS_DIR / "schemas").glob("*.json") if p not in files]
    for name in stale + extra:
        print(f"stale: {name}", file=sys.stderr)
    if stale or extra:
        print("run: python -m yiwang.common.asyncapi write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
