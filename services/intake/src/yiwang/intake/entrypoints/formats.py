"""Open311's two formats (JSON and XML), its error shape, and XML request bodies."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from fastapi import Response

# A list under these keys renders as repeated child elements of the singular name.
_ITEM_NAMES = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


class MalformedXml(ValueError):
    pass


class Open311Error(Exception):
    """A request Open311 refuses, with the spec's status and description."""

    def __init__(self, status: int, description: str) -> None:
        self.status = status
        self.description = description
        super().__init__(description)


def render(fmt: str, *, root: str, item: str | None, payload: Any, status: int = 200) -> Response:
    """JSON as the spec's arrays/objects; XML as <root><item>...</item></root>."""
    if fmt == "json":
        import json

        return Response(
            json.dumps(payload, ensure_ascii=False, default=str), status, media_type=FORMATS["json"]
        )
    element = ET.Element(root)
    if item is None:
        _fill(element, payload)
    else:
        for entry in payload:
            _fill(ET.SubElement(element, item), entry)
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="utf-8")
    return Response(body, status, media_type=FORMATS["xml"])


def errors(fmt: str, status: int, description: str) -> Response:
    """The spec's error list: [{"code": 400, "description": "..."}], as JSON or XML."""
    return render(
        fmt,
        root="errors",
        item="error",
        payload=[{"code": status, "description": description}],
        status=status,
    )


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            node = ET.SubElement(element, key)
            if isinstance(child, Sequence) and not isinstance(child, str | bytes):
                for entry in child:
                    _fill(ET.SubElement(node, _ITEM_NAMES.get(key, "item")), entry)
            else:
                _fill(node, child)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


def parse_xml(body: bytes) -> dict[str, Any]:
    """An XML body as a dict (repeated elements become lists). A document type declaration
    (and with it any entity: "billion laughs" expansion, external entities that read
    files or URLs) is refused before anything is expanded or fetched."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise MalformedXml(f"XML with a DTD or entities is refused: {exc}") from None
    except Exception as exc:  # ParseError
        raise MalformedXml(f"malformed XML: {exc}") from None
    parsed = _to_python(root)
    if not isinstance(parsed, dict):
        raise MalformedXml("malformed XML: the root element must contain fields")
    return parsed


def _to_python(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if all(child.tag == "item" for child in children):  # <media_urls><item>..</item></media_urls>
        return [_to_python(child) for child in children]
    out: dict[str, Any] = {}
    for child in children:
        value = _to_python(child)
        if child.tag in out:
            existing = out[child.tag]
            out[child.tag] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[child.tag] = value
    return out
