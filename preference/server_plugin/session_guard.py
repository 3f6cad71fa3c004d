"""Sign-ins that end when the password changes (runs inside the SERVER virtualenv, imported by launch.py).

Argilla 2.8's session token (a JWT) carries the username and an expiry only, and a user's API key never
changes, so `semisynth preference raters reset` left every old browser session and the old API key working.
Here a token also carries a stamp of the password hash it was issued under and is refused once the password
has changed, and a password change gives the user a new API key.
"""

from __future__ import annotations

import hashlib

from argilla_server.contexts import accounts
from argilla_server.models.database import generate_user_api_key
from argilla_server.security.authentication.db.bearer_token_backend import BearerTokenAuthenticationBackend
from argilla_server.security.authentication.jwt import JWT
from argilla_server.security.authentication.userinfo import UserInfo

CLAIM = "pwv"


def password_stamp(user) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def generate_user_token(user) -> str:
    return JWT.create(UserInfo(identity=str(user.id), name=user.first_name, username=user.username, role=user.role,
                               **{CLAIM: password_stamp(user)}))


_update_user = accounts.update_user
_authenticate = BearerTokenAuthenticationBackend.authenticate


async def update_user(db, user, user_attrs: dict):
    if "password" in user_attrs:
        user_attrs = {**user_attrs, "api_key": generate_user_api_key()}
    return await _update_user(db, user, user_attrs)


async def authenticate(self, request):
    found = await _authenticate(self, request)
    if not found:
        return found
    claims = JWT.decode((await self.scheme(request)).credentials)
    user = await accounts.get_user_by_username(request.state.db, claims.get("username"))
    if user is None or claims.get(CLAIM) != password_stamp(user):
        return None  # issued under an older password (or before this guard): sign in again
    return found


accounts.generate_user_token = generate_user_token
accounts.update_user = update_user
BearerTokenAuthenticationBackend.authenticate = authenticate
