"""Token verification and the actor's rights, in-process. The real identity provider
(Keycloak) is exercised by the integration tests; here a key pair made for the test signs
tokens, and the JWKS is served by an in-memory transport."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from yiwang.common.auth import (
    Actor,
    Forbidden,
    OidcConfig,
    Role,
    TokenVerifier,
    Unauthenticated,
    actor_from_claims,
    check_committee,
    check_department,
    check_role,
    check_township,
)

ISSUER = "https://idp.example/realms/yiwang"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(*keys: Any) -> dict[str, Any]:
    found = []
    for n, key in enumerate(keys):
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        found.append({**public, "kid": f"k{n}", "use": "sig", "alg": "RS256"})
    return {"keys": found}


def verifier(*keys: Any, roles_claim: str = "roles") -> TokenVerifier:
    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={"jwks_uri": f"{ISSUER}/certs"})
        return httpx.Response(200, json=jwks(*keys))

    http = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    return TokenVerifier(OidcConfig(ISSUER, "yiwang", roles_claim), http=http)


def token(key: Any = KEY, kid: str = "k0", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "yiwang", "sub": "u-1", "iat": now, "exp": now + 300,
            "preferred_username": "township_1", "roles": ["township-official"],
            "township_code": "140399001", **claims}  # fmt: skip
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


async def test_a_valid_token_gives_the_actor_with_roles_and_bindings() -> None:
    actor = await verifier(KEY).verify(token())
    assert actor.person
    assert actor.roles == {Role.TOWNSHIP_OFFICIAL}
    assert (actor.name, actor.township_code) == ("township_1", "140399001")
    assert actor.audit_name == "person:township_1"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "https://evil.example"}, "not valid"),
        ({"aud": "someone-else"}, "not valid"),
        ({"exp": int(time.time()) - 3600}, "expired"),
    ],
)
async def test_a_wrong_issuer_audience_or_expiry_is_refused(
    claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        await verifier(KEY).verify(token(**claims))


async def test_a_token_signed_by_another_key_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        await verifier(KEY).verify(token(key=OTHER))
    with pytest.raises(Unauthenticated, match="does not list"):
        await verifier(KEY).verify(token(key=OTHER, kid="k9"))


async def test_garbage_and_unsigned_tokens_are_refused() -> None:
    with pytest.raises(Unauthenticated, match="not a JWT"):
        await verifier(KEY).verify("not.a.jwt")
    unsigned = jwt.encode({"sub": "x", "iss": ISSUER, "aud": "yiwang"}, None, algorithm="none")
    with pytest.raises(Unauthenticated):
        await verifier(KEY).verify(unsigned)


async def test_the_roles_claim_is_configurable() -> None:
    nested = token(roles=None, realm_access={"roles": ["auditor", "offline_access"]})
    actor = await verifier(KEY, roles_claim="realm_access.roles").verify(nested)
    assert actor.roles == {Role.AUDITOR}


def test_machine_roles_cannot_come_from_a_token() -> None:
    claims = {"sub": "s", "roles": ["platform", "department-system", "auditor"]}
    assert actor_from_claims(claims).roles == {Role.AUDITOR}


def person(**bindings: Any) -> Actor:
    return Actor(id="u", name="u", roles=frozenset({Role.MEDIATOR}), person=True, **bindings)


def test_the_checks_of_roles_and_bindings() -> None:
    check_role(person(), Role.MEDIATOR, Role.HUB_OPERATOR)
    with pytest.raises(Forbidden):
        check_role(person(), Role.AUDITOR)
    check_township(person(township_code="140399001"), "140399001")
    with pytest.raises(Forbidden, match="not 140399002"):
        check_township(person(township_code="140399001"), "140399002")
    check_department(person(department="health"), "health")
    with pytest.raises(Forbidden):
        check_department(person(), "health")
    check_committee(person(committee="140399001"), "140399001002")  # a community within
    with pytest.raises(Forbidden):
        check_committee(person(committee="140399001"), "140399002")
