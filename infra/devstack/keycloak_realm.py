"""The demo realm `yiwang` for the local Keycloak: a user for each role, bound to a place or
a body as the roles require, and the clients tests and the demo sign in with.

Users sign in as `<username>` with password `<username>-pass` (a fast hash: this realm is
for a developer machine and tests, never for a county). Access tokens carry `aud: yiwang`,
the realm roles in `roles`, and the bindings as claims: `township_code`, `department`,
`committee` (the mediation committee's area code), and for grid workers `grid_worker` (the
roster's worker id) and `micro_grids` (the micro-grids they serve).

Grid workers are the synthetic roster's (grid-routing's generator): every worker of the
`tiny` county, and the first worker of each township of `district` (make run); each signs
in with their worker id as username (`gw-140399001001001-1`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from yiwang.grid_routing.domain.generator import generate_county, synthetic_roster

REALM = "yiwang"
AUDIENCE = "yiwang"
API_CLIENT, API_SECRET = "yiwang-api", "yiwang-api-secret"  # password grant: people
ROLES = (
    "hub-operator",
    "township-official",
    "department-staff",
    "mediator",
    "hotline-operator",
    "auditor",
    "administrator",
    "grid-worker",
)
BINDINGS = ("township_code", "department", "committee", "micro_grids", "grid_worker")
DEPARTMENTS = (
    "comprehensive-governance", "civil-affairs", "petition", "market-supervision",
    "urban-management", "emergency-management", "health", "public-security",
    "human-resources", "housing", "natural-resources", "ecology-environment", "utilities",
    "justice",
)  # fmt: skip
# The synthetic counties: `tiny` (tests: county 140399, townships 140399001-002) and
# `district` (make run: county 140302, townships 140302001-007).
TOWNSHIPS = ("140399001", "140399002", *(f"140302{n:03d}" for n in range(1, 8)))
COUNTIES = ("140399", "140302")


def _user(username: str, role: str, **bindings: str) -> dict[str, Any]:
    return {
        "username": username,
        "enabled": True,
        "emailVerified": True,
        "email": f"{username}@yiwang.test",
        "firstName": username,
        "lastName": "Demo",
        "attributes": {name: [value] for name, value in bindings.items()},
        "credentials": [{"type": "password", "value": f"{username}-pass", "temporary": False}],
        "realmRoles": [role],
    }


def users() -> list[dict[str, Any]]:
    found = [
        _user("hub_operator", "hub-operator"),
        _user("hotline_operator", "hotline-operator"),
        _user("auditor", "auditor"),
        _user("administrator", "administrator"),
    ]
    found += [_user(f"township_{t}", "township-official", township_code=t) for t in TOWNSHIPS]
    found += [
        _user(f"staff_{d.replace('-', '_')}", "department-staff", department=d) for d in DEPARTMENTS
    ]
    # A mediator serves a committee: its area (a county, township, community or grid code)
    # and everything within it.
    found += [_user(f"mediator_{t}", "mediator", committee=t) for t in TOWNSHIPS]
    found += [_user(f"mediator_{c}", "mediator", committee=c) for c in COUNTIES]
    # The API fuzzer's account: every person role, bound to the tiny county, so that
    # schemathesis reaches the handlers behind each check.
    fuzzer = _user("fuzzer", "hub-operator", township_code="140399001",
                   department="urban-management", committee="140399")  # fmt: skip
    fuzzer["realmRoles"] = list(ROLES)
    found.append(fuzzer)
    for row in grid_workers():
        bindings = {
            "grid_worker": row["worker_id"],
            "micro_grids": row["micro_grids"].replace(";", " "),
            "township_code": row["micro_grids"][:9],
        }
        found.append(_user(row["worker_id"], "grid-worker", **bindings))
    return found


@cache
def grid_workers() -> tuple[dict[str, str], ...]:
    """The grid workers with an account: all of `tiny`'s, one per township of `district`."""
    tiny = synthetic_roster(generate_county("tiny")["admin"])
    district = synthetic_roster(generate_county("district")["admin"])
    firsts = {row["micro_grids"][:9]: row for row in reversed(district)}
    return (*tiny, *(firsts[t] for t in sorted(firsts)))


def _attribute_mapper(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "config": {
            "user.attribute": name,
            "claim.name": name,
            "jsonType.label": "String",
            "access.token.claim": "true",
            "id.token.claim": "true",
            "userinfo.token.claim": "true",
            "introspection.token.claim": "true",
            "multivalued": "false",
        },
    }


def _mappers() -> list[dict[str, Any]]:
    return [
        *(_attribute_mapper(name) for name in BINDINGS),
        {
            "name": "audience",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-audience-mapper",
            "config": {
                "included.custom.audience": AUDIENCE,
                "access.token.claim": "true",
                "introspection.token.claim": "true",
            },
        },
        {
            "name": "roles",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-usermodel-realm-role-mapper",
            "config": {
                "claim.name": "roles",
                "jsonType.label": "String",
                "multivalued": "true",
                "access.token.claim": "true",
                "introspection.token.claim": "true",
            },
        },
    ]


def _user_profile() -> str:
    """Keycloak's user profile: the standard attributes and the bindings (admin-only)."""
    everyone = {"view": ["admin", "user"], "edit": ["admin", "user"]}
    standard = [
        {"name": "username", "displayName": "${username}", "permissions": everyone,
         "validations": {"length": {"min": 3, "max": 255}}},
        {"name": "email", "displayName": "${email}", "permissions": everyone,
         "validations": {"email": {}, "length": {"max": 255}}},
        {"name": "firstName", "displayName": "${firstName}", "permissions": everyone,
         "validations": {"length": {"max": 255}}},
        {"name": "lastName", "displayName": "${lastName}", "permissions": everyone,
         "validations": {"length": {"max": 255}}},
    ]  # fmt: skip
    bound = [
        {"name": name, "displayName": name, "permissions": {"view": ["admin"], "edit": ["admin"]},
         "validations": {"length": {"max": 512}}}
        for name in BINDINGS
    ]  # fmt: skip
    return json.dumps({"unmanagedAttributePolicy": "ADMIN_EDIT", "attributes": standard + bound})


def realm() -> dict[str, Any]:
    return {
        "realm": REALM,
        "enabled": True,
        "sslRequired": "none",  # loopback only
        "accessTokenLifespan": 900,
        "registrationAllowed": False,
        "passwordPolicy": "hashAlgorithm(pbkdf2-sha256) and hashIterations(1000)",
        "roles": {"realm": [{"name": role, "description": role} for role in ROLES]},
        "clients": [
            {
                "clientId": API_CLIENT,
                "name": "Yiwang (people: password grant for tests and the demo)",
                "enabled": True,
                "protocol": "openid-connect",
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": API_SECRET,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": True,
                "redirectUris": ["http://127.0.0.1/*", "http://localhost/*"],
                "webOrigins": ["+"],
                "fullScopeAllowed": True,
                "protocolMappers": _mappers(),
            }
        ],
        "users": users(),
        "components": {
            "org.keycloak.userprofile.UserProfileProvider": [
                {
                    "providerId": "declarative-user-profile",
                    "subComponents": {},
                    "config": {"kc.user.profile.config": [_user_profile()]},
                }
            ]
        },
    }


def realm_json() -> str:
    return json.dumps(realm(), ensure_ascii=False, indent=1, sort_keys=True)
