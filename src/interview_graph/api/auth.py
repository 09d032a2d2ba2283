"""Who is connecting, and in which role: HS256 JWTs (PyJWT), or plain ids in the dev mode.

A token's ``sub`` is the user id and its ``role`` claim the role: ``candidate`` (the default,
so tokens issued before roles existed keep working) or ``reviewer``.  Candidates take
interviews over ``/ws`` and may read only their own interviews' public events; reviewers read
every transcript and report through ``/api`` and record human reviews, and cannot take
interviews.  In the dev mode (``INTERVIEW_AUTH=dev``) there is no authentication: a client
names its user id (and, on ``/api``, its role) itself.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal

import jwt

from ..settings import Settings

Role = Literal["candidate", "reviewer"]
ROLES: tuple[Role, ...] = ("candidate", "reviewer")
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class AuthError(Exception):
    """Login refused; the message is safe to show."""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user: str
    role: Role

    @property
    def reviewer(self) -> bool:
        """Whether this caller may read every interview and record reviews."""
        return self.role == "reviewer"


def identify(
    settings: Settings, token: str | None, user: str | None = None, role: str | None = None
) -> Principal:
    """Return who a token (or, in dev mode, a plain ``user`` and ``role``) names.

    In dev mode a ``user`` wins over a token and ``role`` defaults to ``candidate``; with
    ``INTERVIEW_AUTH=jwt`` only the token counts (its ``role`` claim, default ``candidate``).

    Raises:
        AuthError: no token, bad signature, expired, an unknown role or an unusable user id.
    """
    if settings.auth == "dev" and user:
        subject, claimed = user, role or "candidate"
    elif settings.auth == "dev" and not token:
        raise AuthError("a token or user is required")
    else:
        if not token:
            raise AuthError("a token is required")
        subject, claimed = _claims(settings, token)
    if not subject or not _USER.match(subject):
        raise AuthError("user id must be 1–64 characters of letters, digits, _ . @ -")
    if claimed not in ROLES:
        raise AuthError(f"unknown role {claimed[:40]!r} (known: {', '.join(ROLES)})")
    return Principal(subject, claimed)  # narrowed to Role by the check above


def authenticate(settings: Settings, token: str | None, user: str | None) -> str:
    """Return the candidate's user id for a ``/ws`` login frame.

    Raises:
        AuthError: as :func:`identify`, or the token is a reviewer's (reviewers use ``/api``).
    """
    principal = identify(settings, token, user)
    if principal.role != "candidate":
        raise AuthError(f"a {principal.role} token cannot take interviews; use /review")
    return principal.user


def _claims(settings: Settings, token: str) -> tuple[str, str]:
    """(sub, role) of a valid token."""
    try:
        claims = jwt.decode(
            token, settings.jwt_secret, algorithms=["HS256"], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from None
    return str(claims["sub"]), str(claims.get("role", "candidate"))


def issue_token(secret: str, user: str, ttl_seconds: int = 3600, role: Role = "candidate") -> str:
    """Issue an HS256 token for ``user`` in ``role`` (for tests and operators' scripts)."""
    now = int(time.time())
    return jwt.encode(
        {"sub": user, "role": role, "iat": now, "exp": now + ttl_seconds}, secret, algorithm="HS256"
    )
