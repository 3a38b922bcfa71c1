"""Password hashing (argon2 through pwdlib) and signed tokens (PyJWT, HS256 only).

Pure functions: no session, no FastAPI. ``decode_token`` accepts HS256 alone, so a token whose header
says ``alg: none``, RS256 or anything else is refused before its claims are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "county", "ver", "iat", "exp", "typ"]

_hasher = PasswordHash((Argon2Hasher(),))


class TokenKind(StrEnum):
    """What a token is for: an API bearer token or the web session cookie; one never passes as the other."""

    ACCESS = "access"
    SESSION = "session"


@dataclass(frozen=True)
class TokenClaims:
    """The claims GridGov signs: who (county, username), which token version, and what for."""

    county_code: str
    username: str
    token_version: int


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with pwdlib's recommended parameters."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches, and a fresh hash when the stored one uses outdated parameters."""
    return _hasher.verify_and_update(password, password_hash)


@cache
def _decoy_hash() -> str:
    return hash_password("no such user: this hash only spends the time a real check spends")


def spend_verify_time(password: str) -> None:
    """Verify against a decoy hash, so an unknown username costs as long as a wrong password."""
    _hasher.verify(password, _decoy_hash())


def encode_token(
    *, county_code: str, username: str, token_version: int, kind: TokenKind, minutes: int, secret: str,
    now: datetime | None = None,
) -> str:
    """A signed HS256 token valid for ``minutes`` from ``now``."""
    issued = now or datetime.now(UTC)
    claims = {
        "sub": username, "county": county_code, "ver": token_version, "typ": str(kind),
        "iat": issued, "exp": issued + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str, kind: TokenKind) -> TokenClaims:
    """The claims of a valid, unexpired token of ``kind``; raises ``jwt.InvalidTokenError`` otherwise."""
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": REQUIRED_CLAIMS})
    if claims["typ"] != kind:
        raise jwt.InvalidTokenError(f"a {claims['typ']!r} token where a {kind.value!r} token belongs")
    if not (isinstance(claims["sub"], str) and isinstance(claims["county"], str) and type(claims["ver"]) is int):
        raise jwt.InvalidTokenError("malformed claims")
    return TokenClaims(county_code=claims["county"], username=claims["sub"], token_version=claims["ver"])
