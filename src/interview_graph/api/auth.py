"""Who is connecting: HS256 JWTs (PyJWT), or a plain user id in the explicit dev mode."""

from __future__ import annotations

import re
import time

import jwt

from ..settings import Settings

_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class AuthError(Exception):
    """Login refused; the message is safe to show."""


def authenticate(settings: Settings, token: str | None, user: str | None) -> str:
    """Return the user id for a login frame.

    Raises:
        AuthError: no token, bad signature, expired, or an unusable user id.
    """
    if settings.auth == "dev":
        candidate = user or _subject(settings, token)
    else:
        if not token:
            raise AuthError("a token is required")
        candidate = _subject(settings, token)
    if not candidate or not _USER.match(candidate):
        raise AuthError("user id must be 1–64 characters of letters, digits, _ . @ -")
    return candidate


def _subject(settings: Settings, token: str | None) -> str:
    if not token:
        raise AuthError("a token or user is required")
    try:
        claims = jwt.decode(
            token, settings.jwt_secret, algorithms=["HS256"], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    return str(claims["sub"])


def issue_token(secret: str, user: str, ttl_seconds: int = 3600) -> str:
    """Issue an HS256 token for ``user`` (for tests and operators' scripts)."""
    now = int(time.time())
    return jwt.encode(
        {"sub": user, "iat": now, "exp": now + ttl_seconds}, secret, algorithm="HS256"
    )
