"""Who is calling: people by OpenID Connect bearer tokens, machines by API keys.

People sign in at the county's identity provider (Keycloak locally) and present its
access token (`Authorization: Bearer <JWT>`). Every service verifies it against the
issuer's JWKS: signature, issuer, audience, expiry. The roles claim
(`YIWANG_OIDC_ROLES_CLAIM`, default `roles`; `realm_access.roles` also works) gives the
roles, and the bindings come from claims of their own: `township_code`,
`department`, `committee` (a mediation committee's area code), `micro_grids` and
`grid_worker` (the worker's id on the grid-routing roster).

Machine clients (county platforms, department systems, township systems) keep API keys,
verified by the service that issued them (`ApiKeyVerifier`). Either way a route gets an
`Actor`; the checks of what an actor may do are the `check_*` functions below, raising
`Unauthenticated` (401) or `Forbidden` (403), answered as problem details.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import httpx
import jwt
from fastapi import Request
from yiwang.common.logs import get_logger

log = get_logger(__name__)

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
LEEWAY_SECONDS = 30
JWKS_REFRESH_SECONDS = 300
JWKS_MIN_REFETCH_SECONDS = 10  # an unknown kid fetches the keys again, at most this often


class Role(StrEnum):
    HUB_OPERATOR = "hub-operator"  # the county comprehensive governance centre (综治中心)
    TOWNSHIP_OFFICIAL = "township-official"  # bound to a township
    DEPARTMENT_STAFF = "department-staff"  # bound to a department
    MEDIATOR = "mediator"  # bound to a mediation committee (its area)
    HOTLINE_OPERATOR = "hotline-operator"  # 12345 seats: call-backs, follow-up calls
    AUDITOR = "auditor"  # reads everything, changes nothing
    ADMINISTRATOR = "administrator"  # rosters, reference data
    GRID_WORKER = "grid-worker"  # bound to micro-grids
    # Machines, by API key.
    PLATFORM = "platform"  # a county platform submitting cases
    DEPARTMENT_SYSTEM = "department-system"  # a department's own system
    TOWNSHIP_SYSTEM = "township-system"  # a township's own system (whistles)


READERS = frozenset({Role.AUDITOR, Role.HUB_OPERATOR, Role.ADMINISTRATOR})


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated caller. `id` is stable (the token's subject, or the key's id)."""

    id: str
    name: str
    roles: frozenset[Role]
    person: bool
    township_code: str | None = None
    department: str | None = None
    committee: str | None = None
    micro_grids: frozenset[str] = field(default_factory=frozenset)
    grid_worker: str | None = None  # the roster's worker id of a grid worker

    @property
    def audit_name(self) -> str:
        """What the audit trail records: `person:<username>` or `<role>:<name>`."""
        if self.person:
            return f"person:{self.name}"
        return f"{next(iter(sorted(self.roles)))}:{self.name}"

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


class Unauthenticated(Exception):
    """No credential, or one that is not valid: 401."""

    status = 401
    field = "authorization"
    code = "unauthenticated"


class Forbidden(Exception):
    """A valid credential without the right: 403."""

    status = 403
    field = "authorization"
    code = "forbidden"


def check_role(actor: Actor, *roles: Role) -> Actor:
    if not actor.has(*roles):
        raise Forbidden(f"{actor.audit_name} is not one of {', '.join(sorted(roles))}")
    return actor


def check_township(actor: Actor, township_code: str | None) -> None:
    """A township official (or system) acts only in their own township."""
    if actor.township_code is None or actor.township_code != township_code:
        raise Forbidden(
            f"{actor.audit_name} acts for township {actor.township_code or 'none'}, "
            f"not {township_code or 'unknown'}"
        )


def check_department(actor: Actor, department: str | None) -> None:
    if actor.department is None or actor.department != department:
        raise Forbidden(
            f"{actor.audit_name} acts for {actor.department or 'no department'}, "
            f"not {department or 'unknown'}"
        )


def check_committee(actor: Actor, area_code: str) -> None:
    """A mediator serves a committee's area and every area within it (codes nest)."""
    if actor.committee is None or not area_code.startswith(actor.committee):
        raise Forbidden(
            f"{actor.audit_name} serves committee area {actor.committee or 'none'}, not {area_code}"
        )


class ApiKeyVerifier(Protocol):
    """A service's own API keys: the actor a presented key belongs to, or None."""

    def __call__(self, presented: str) -> Awaitable[Actor | None]: ...


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    roles_claim: str = "roles"
    jwks_url: str | None = None  # default: from the issuer's discovery document


class TokenVerifier:
    """Verifies bearer JWTs against the issuer's keys, fetched and cached."""

    def __init__(self, config: OidcConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._http = http
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> Actor:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the bearer token is not a JWT") from None
        key = await self._key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the bearer token has expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the bearer token is not valid: {exc}") from None
        return actor_from_claims(claims, roles_claim=self.config.roles_claim)

    async def _key(self, kid: str | None) -> Any:
        now = time.monotonic()
        stale = now - self._fetched_at > JWKS_REFRESH_SECONDS
        unknown = kid not in self._keys and now - self._fetched_at > JWKS_MIN_REFETCH_SECONDS
        if stale or unknown:
            async with self._lock:
                if self._fetched_at < now:  # nobody refreshed while this waited
                    await self._refresh()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if kid is None or kid not in self._keys:
            raise Unauthenticated("the bearer token is signed with a key the issuer does not list")
        return self._keys[kid]

    async def _refresh(self) -> None:
        http = self._http or httpx.AsyncClient(timeout=5)
        try:
            url = self.config.jwks_url or await self._jwks_url(http)
            response = await http.get(url)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, jwt.PyJWTError, ValueError) as exc:
            log.warning("identity provider keys not fetched", error=f"{type(exc).__name__}: {exc}")
            if not self._keys:
                raise Unauthenticated(
                    "the identity provider cannot be reached to check the token"
                ) from None
            return
        finally:
            if self._http is None:
                await http.aclose()
        self._keys = {k.key_id or "": k.key for k in keys if k.public_key_use in (None, "sig")}
        self._fetched_at = time.monotonic()

    async def _jwks_url(self, http: httpx.AsyncClient) -> str:
        response = await http.get(
            self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
        response.raise_for_status()
        return str(response.json()["jwks_uri"])


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return []


def actor_from_claims(claims: Mapping[str, Any], *, roles_claim: str = "roles") -> Actor:
    known = {r.value for r in Role}
    roles = frozenset(Role(r) for r in _strings(_claim(claims, roles_claim)) if r in known) - {
        Role.PLATFORM,
        Role.DEPARTMENT_SYSTEM,
        Role.TOWNSHIP_SYSTEM,
    }  # machines use keys
    name = str(claims.get("preferred_username") or claims["sub"])
    return Actor(
        id=str(claims["sub"]),
        name=name,
        roles=roles,
        person=True,
        township_code=_optional(claims.get("township_code")),
        department=_optional(claims.get("department")),
        committee=_optional(claims.get("committee")),
        micro_grids=frozenset(_strings(claims.get("micro_grids"))),
        grid_worker=_optional(claims.get("grid_worker")),
    )


def _optional(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def presented_credential(request: Request) -> str | None:
    """The bearer token or API key a request carries (X-API-Key, or Authorization: Bearer)."""
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2


Authenticate = Callable[[Request], Awaitable[Actor]]


def authenticator(
    *, tokens: TokenVerifier | None, api_keys: ApiKeyVerifier | None = None
) -> Authenticate:
    """The FastAPI dependency every guarded route uses: the caller, or 401."""

    async def authenticate(request: Request) -> Actor:
        credential = presented_credential(request)
        if not credential:
            raise Unauthenticated(
                "a credential is required: Authorization: Bearer <token from the identity "
                "provider>, or an API key for machine clients"
            )
        if looks_like_jwt(credential):
            if tokens is None:
                raise Unauthenticated("this service accepts no bearer tokens")
            return await tokens.verify(credential)
        actor = await api_keys(credential) if api_keys is not None else None
        if actor is None:
            raise Unauthenticated("the API key is not valid or was revoked")
        return actor

    return authenticate
