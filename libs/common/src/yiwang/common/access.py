"""Who may call a route, declared once on the route: the check and its documentation.

    can_rule = allow(authenticate, Role.HUB_OPERATOR)

    @router.post("/cases/{case_id}/ruling", openapi_extra=can_rule.openapi)
    async def rule(case_id: str, body: RulingRequest, actor: Actor = can_rule.actor) -> ...

`allow` checks the role (401 without a credential, 403 with the wrong one) and hands the
route the `Actor`; a binding (`bound="township"`: the township official acts only in their
own township) is checked by the handler against the resource, with `auth.check_*`. The
OpenAPI document carries `x-yiwang-access` on every operation, so the route table in
docs/security.md and the test that walks it are made from what the code enforces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, Request
from yiwang.common.auth import Actor, Authenticate, Role, check_role

Binding = Literal["township", "department", "committee", "micro_grid"]
ACCESS_KEY = "x-yiwang-access"


@dataclass(frozen=True)
class Allowed:
    roles: frozenset[Role]
    bound: tuple[Binding, ...]
    actor: Any  # Depends(...): the route's parameter default
    openapi: dict[str, Any]


def allow(authenticate: Authenticate, *roles: Role, bound: tuple[Binding, ...] = ()) -> Allowed:
    """A route only these roles may call; `bound`: the bindings its handler checks."""
    chosen = frozenset(roles)

    async def actor(request: Request) -> Actor:
        return check_role(await authenticate(request), *chosen)

    return Allowed(
        roles=chosen,
        bound=bound,
        actor=Depends(actor),
        openapi={ACCESS_KEY: {"roles": sorted(chosen), "bound": list(bound)}},
    )


# Probes, scrapes and the documents that describe the API: open to anyone who can reach
# the port (network policies keep that to the cluster).
PUBLIC: dict[str, Any] = {ACCESS_KEY: {"public": True}}
