"""The route table of docs/security.md, made from what the code enforces.

Each service's app is built in-process (no database, broker or identity provider is
touched) and every operation of its OpenAPI document is read with the `x-yiwang-access`
its route declares (`yiwang.common.access.allow`, or PUBLIC).

    uv run --frozen python infra/access_table.py          # rewrite the table in docs/security.md
    uv run --frozen python infra/access_table.py --check  # exit 1 if it is out of date

tests/test_access_table.py runs the check, and fails on any route that declares nothing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "security.md"
BEGIN, END = "<!-- routes:begin (infra/access_table.py) -->", "<!-- routes:end -->"
SERVICES = {
    "intake": "yiwang.intake.app",
    "grid-routing": "yiwang.grid_routing.app",
    "department-dispatch": "yiwang.department_dispatch.app",
    "mediation": "yiwang.mediation.app",
    "oversight": "yiwang.oversight.app",
}
METHODS = ("get", "post", "put", "patch", "delete")
# Served by libs/common on every service, outside the OpenAPI document.
UNDOCUMENTED = {("get", "/metrics"), ("get", "/docs"), ("get", "/openapi.json")}


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str
    summary: str
    public: bool
    roles: tuple[str, ...]
    bound: tuple[str, ...]
    also: str = ""  # another way in, e.g. a resident's one-time evaluation token


def openapi_of(service: str) -> dict[str, Any]:
    """The service's OpenAPI document, from its app built in-process."""
    os.environ.setdefault("YIWANG_ENV", "development")
    os.environ.setdefault("YIWANG_OIDC_ISSUER", "http://identity-provider.invalid/realms/yiwang")
    from yiwang.common.service import create_app

    definition = importlib.import_module(SERVICES[service]).DEFINITION
    app = create_app(definition, definition.settings_factory())
    return dict(app.openapi())


def routes() -> list[Route]:
    found: list[Route] = []
    for service in SERVICES:
        for path, item in sorted(openapi_of(service)["paths"].items()):
            for method in METHODS:
                operation = item.get(method)
                if operation is None:
                    continue
                access = operation.get("x-yiwang-access") or {}
                found.append(
                    Route(
                        service,
                        method,
                        path,
                        operation.get("summary", ""),
                        bool(access.get("public")),
                        tuple(access.get("roles", ())),
                        tuple(access.get("bound", ())),
                        str(access.get("resident_token", "")),
                    )
                )
    return found


def undeclared(found: list[Route]) -> list[Route]:
    return [r for r in found if not r.public and not r.roles]


def table(found: list[Route]) -> str:
    lines = [
        "| service | method | path | who may call | bound to | what |",
        "|---|---|---|---|---|---|",
    ]
    for r in found:
        who = "anyone (public)" if r.public else ", ".join(r.roles)
        if r.also:
            who += f"; {r.also}"
        bound = ", ".join(r.bound) or ""
        lines.append(
            f"| {r.service} | {r.method.upper()} | `{r.path}` | {who} | {bound} | {r.summary} |"
        )
    return "\n".join(lines)


def rendered_doc(found: list[Route]) -> str:
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table(found)}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra/access_table.py")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/security.md is stale")
    args = parser.parse_args(argv)
    found = routes()
    missing = undeclared(found)
    if missing:
        for r in missing:
            print(f"{r.service}: {r.method.upper()} {r.path} declares no access", file=sys.stderr)
        return 1
    wanted = rendered_doc(found)
    if args.check:
        if wanted != DOC.read_text(encoding="utf-8"):
            print("docs/security.md is out of date: run infra/access_table.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted, encoding="utf-8")
    print(f"wrote {len(found)} routes into {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
