"""The people of the demo county sign in at the identity provider (the local Keycloak's
demo realm, infra/devstack/keycloak_realm.py) like anyone else: the hub operator rules,
the auditor reads for the live view. Tokens are renewed before they expire."""

from __future__ import annotations

import os
import time

import httpx

CLIENT_ID, CLIENT_SECRET = "yiwang-api", "yiwang-api-secret"


class People:
    def __init__(self, issuer: str | None = None) -> None:
        self.issuer = issuer or os.environ.get("YIWANG_OIDC_ISSUER", "")
        self._tokens: dict[str, tuple[float, str]] = {}

    async def headers(self, client: httpx.AsyncClient, username: str) -> dict[str, str]:
        """`Authorization: Bearer <token>` of `username` (password `<username>-pass`)."""
        cached = self._tokens.get(username)
        if cached is None or cached[0] < time.monotonic() + 30:
            response = await client.post(
                f"{self.issuer}/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "username": username,
                    "password": f"{username}-pass",
                },
                timeout=15,
            )
            response.raise_for_status()
            body = response.json()
            cached = (time.monotonic() + float(body["expires_in"]), str(body["access_token"]))
            self._tokens[username] = cached
        return {"Authorization": f"Bearer {cached[1]}"}
