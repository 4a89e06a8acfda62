"""Token endpoint bodies (OAuth 2.0 client-credentials style, JSON encoded)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["viewer", "operator", "admin"]

_STRICT = ConfigDict(extra="forbid", strict=True)


class TokenRequest(BaseModel):
    """Exchange client credentials for an access and a refresh token."""

    model_config = _STRICT

    grant_type: Literal["client_credentials"] = "client_credentials"
    client_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    client_secret: str = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
    """Exchange a refresh token (once) for a new pair; a second use revokes the family."""

    model_config = _STRICT

    refresh_token: str = Field(pattern=r"^[A-Za-z0-9_-]{1,256}$", description="URL-safe base64 text.")


class TokenPair(BaseModel):
    """A bearer access token and its rotating refresh token."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    refresh_expires_in: int
    role: Role
    client_id: str
