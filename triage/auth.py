"""Accounts, roles, login sessions the server can end, API tokens, CSRF and login limits."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, Request, abort, current_app, g, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .errors import APIError
from .store import ApiToken, AuthSession, LoginFailure, Store, User, as_utc, utcnow

ROLES = ("agent", "admin")
TOKEN_PREFIX = "trg_"
security_log = logging.getLogger("triage.security")

csrf = CSRFProtect()
login_manager = LoginManager()

F = TypeVar("F", bound=Callable[..., Any])


class AuthError(Exception):
    """A user or token operation that cannot be done; the message says why."""


class Account(UserMixin):
    """The logged-in user as Flask-Login sees it (no password hash kept).

    Its id is the session token, not the user id: the cookie names a session
    row the server can end, so a copied cookie dies with the session.
    """

    def __init__(self, user: User, token: str) -> None:
        self.id = token
        self.user_id = user.id
        self.name = user.name
        self.role = user.role

    @property
    def is_admin(self) -> bool:
        """Return True for admins."""
        return self.role == "admin"


def _store() -> Store:
    return current_app.extensions["triage.store"]


def hash_password(password: str) -> str:
    """Hash with scrypt (Werkzeug's default key-derivation function)."""
    return generate_password_hash(password, method="scrypt")


def add_user(store: Store, name: str, role: str, password: str) -> None:
    """Create an account; names are unique, passwords at least 12 characters."""
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; use agent or admin.")
    if not name or len(name) > 80:
        raise AuthError("the user name must be 1 to 80 characters.")
    if len(password) < 12:
        raise AuthError("the password must be at least 12 characters.")
    with store.session() as s:
        if s.scalars(select(User).where(User.name == name)).first():
            raise AuthError(f"user {name!r} already exists.")
        s.add(User(name=name, role=role, password_hash=hash_password(password)))


def _user(s: Any, name: str) -> User:
    user = s.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise AuthError(f"no user {name!r}.")
    return user


def set_disabled(store: Store, name: str, disabled: bool = True) -> None:
    """Disable (or re-enable) an account; disabling ends its sessions at once."""
    with store.session() as s:
        user = _user(s, name)
        user.disabled = disabled
        if disabled:
            _revoke_all(s, user.id)


def set_password(store: Store, name: str, password: str) -> int:
    """Set a new password (12+ characters) and end every session of the account; return how many ended."""
    if len(password) < 12:
        raise AuthError("the password must be at least 12 characters.")
    with store.session() as s:
        user = _user(s, name)
        user.password_hash = hash_password(password)
        return _revoke_all(s, user.id)


def end_all_sessions(store: Store, name: str) -> int:
    """Log an account out everywhere (every browser, every copied cookie); return how many sessions ended."""
    with store.session() as s:
        return _revoke_all(s, _user(s, name).id)


def _revoke_all(s: Any, user_id: int) -> int:
    now = utcnow()
    rows = list(s.scalars(select(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))))
    for row in rows:
        row.revoked_at = now
    return len(rows)


def _session_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, user: User) -> str:
    """Record a new login session of the user and return its token (kept only in the signed cookie)."""
    token = secrets.token_urlsafe(32)
    with store.session() as s:
        s.add(AuthSession(id=_session_hash(token), user_id=user.id))
    return token


def end_session(store: Store, token: str) -> None:
    """End one login session (logout): its cookie, and every copy of it, stops working."""
    with store.session() as s:
        row = s.get(AuthSession, _session_hash(token))
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()


def active_sessions(store: Store, lifetime: timedelta, idle: timedelta) -> dict[int, int]:
    """Return the number of live sessions (not ended, not expired, not idle) per user id."""
    now = utcnow()
    with store.session() as s:
        q = select(AuthSession.user_id, func.count()).where(
            AuthSession.revoked_at.is_(None), AuthSession.created_at > now - lifetime,
            AuthSession.last_seen_at > now - idle).group_by(AuthSession.user_id)
        return {user_id: n for user_id, n in s.execute(q).all()}


def purge_sessions(store: Store, older_than: timedelta) -> int:
    """Delete sessions whose last use is older than ``older_than`` (ended or expired long ago); return how many."""
    with store.session() as s:
        done = s.execute(delete(AuthSession).where(AuthSession.last_seen_at < utcnow() - older_than))
    return done.rowcount or 0


def session_limits(config: dict[str, Any]) -> tuple[timedelta, timedelta]:
    """Return (absolute lifetime, idle timeout) of login sessions from the settings."""
    return timedelta(hours=config["SESSION_HOURS"]), timedelta(minutes=config["SESSION_IDLE_MINUTES"])


# last_seen_at is written at most this often per session: not one write per request.
SEEN_RESOLUTION = timedelta(seconds=60)


def load_session(store: Store, token: str, lifetime: timedelta, idle: timedelta) -> Account | None:
    """Return the account of a live session: not ended, not older than ``lifetime``, not idle past ``idle``."""
    now = utcnow()
    with store.session() as s:
        row = s.execute(select(AuthSession, User).join(User, AuthSession.user_id == User.id)
                        .where(AuthSession.id == _session_hash(token))).first()
        if row is None:
            return None
        auth, user = row
        if auth.revoked_at is not None or user.disabled:
            return None
        if now - as_utc(auth.created_at) > lifetime or now - as_utc(auth.last_seen_at) > idle:
            auth.revoked_at = now
            return None
        if now - as_utc(auth.last_seen_at) > SEEN_RESOLUTION:
            auth.last_seen_at = now
        return Account(user, token)


def list_users(store: Store) -> list[User]:
    """Return every account."""
    with store.session() as s:
        return list(s.scalars(select(User).order_by(User.name)))


def authenticate(store: Store, name: str, password: str) -> User | None:
    """Return the enabled user whose password matches, else None (same cost either way)."""
    with store.session() as s:
        user = s.scalars(select(User).where(User.name == name)).first()
    # Hash even for unknown names so that timing does not reveal which exist.
    stored = user.password_hash if user else _DUMMY_HASH
    ok = check_password_hash(stored, password)
    if user is None or user.disabled or not ok:
        return None
    return user


_DUMMY_HASH = generate_password_hash("not-a-password-" + secrets.token_hex(8), method="scrypt")


def _token_hash(token: str) -> str:
    # Tokens are long random strings: a plain SHA-256 is enough (no KDF needed).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, name: str) -> str:
    """Create a token for a contact system and return it (shown once, stored hashed)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.session() as s:
        existing = s.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if existing is not None and existing.revoked_at is None:
            raise AuthError(f"a token named {name!r} exists; revoke it first (`triage tokens revoke {name}`).")
        if existing is not None:
            s.delete(existing)
            s.flush()
        s.add(ApiToken(name=name, token_hash=_token_hash(token)))
    return token


def revoke_token(store: Store, name: str) -> None:
    """Revoke a token by name; requests with it get 401 from now on."""
    with store.session() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))).first()
        if row is None:
            raise AuthError(f"no active token named {name!r}.")
        row.revoked_at = utcnow()
        _token_cache.pop(row.token_hash, None)


# Valid tokens seen in the last few seconds, per process: the lookup costs
# about as much as classifying. A revocation takes effect within this time.
TOKEN_CACHE_SECONDS = 2.0
_token_cache: dict[str, tuple[str, float]] = {}


def token_owner(store: Store, token: str) -> str | None:
    """Return the name of the active token, or None."""
    digest = _token_hash(token)
    cached = _token_cache.get(digest)
    now = time.monotonic()
    if cached is not None and now - cached[1] < TOKEN_CACHE_SECONDS:
        return cached[0]
    name = _lookup_token(store, digest)
    if name is None:
        _token_cache.pop(digest, None)
    else:
        if len(_token_cache) > 1000:
            _token_cache.clear()
        _token_cache[digest] = (name, now)
    return name


def _lookup_token(store: Store, digest: str) -> str | None:
    # A plain read on every API request: no ORM session, no commit.
    with store.engine.connect() as conn:
        row = conn.execute(
            select(ApiToken.name, ApiToken.token_hash, ApiToken.revoked_at).where(ApiToken.token_hash == digest)
        ).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row.name


# -- login limits: failed attempts per account and per address, counted in the database ----------------

_LIMIT_RE = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(\d*)\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_limit(spec: str) -> tuple[int, timedelta]:
    """Parse "5 per minute" (also "5/minute", "20 per 10 minutes") into (attempts, window)."""
    m = _LIMIT_RE.match(spec)
    if m is None or int(m.group(1)) < 1:
        raise ValueError(f"{spec!r} is not a limit like '5 per minute'")
    return int(m.group(1)), timedelta(seconds=int(m.group(2) or 1) * _UNIT_SECONDS[m.group(3).lower()])


class LoginLimited(Exception):
    """Too many failed logins for this account or address; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def begin_attempt(store: Store, keys: list[str], limit: int, window: timedelta) -> list[int]:
    """Count a login attempt under every key, or raise LoginLimited when a key had ``limit`` failures already.

    The attempt is recorded before the count (and withdrawn when refused), so
    concurrent attempts on any worker never get past the limit together.
    Returns the attempt's row ids: keep them for a failure, withdraw them for
    a success (only failures count).
    """
    now = utcnow()
    with store.session() as s:
        s.execute(delete(LoginFailure).where(LoginFailure.created_at < now - window))
        rows = [LoginFailure(key=key[:120], created_at=now) for key in keys]
        s.add_all(rows)
    ids = [r.id for r in rows]
    retry = None
    with store.session() as s:
        for key in keys:
            count, oldest = s.execute(select(func.count(), func.min(LoginFailure.created_at)).where(
                LoginFailure.key == key[:120], LoginFailure.created_at >= now - window)).one()
            if count > limit:
                # Refused attempts do not count: the withdrawal commits with this session.
                s.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))
                retry = (as_utc(oldest) + window - now).total_seconds() if oldest is not None else window.seconds
                break
    if retry is not None:
        raise LoginLimited(max(1, int(retry) + 1))
    return ids


def withdraw_attempt(store: Store, ids: list[int], clear_key: str | None = None) -> None:
    """Forget a successful attempt (and the earlier failures of ``clear_key``, the account that just proved itself)."""
    with store.session() as s:
        s.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))
        if clear_key is not None:
            s.execute(delete(LoginFailure).where(LoginFailure.key == clear_key[:120]))


def require_token(view: F) -> F:
    """Let a request through only with a valid `Authorization: Bearer` token."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(401, "missing bearer token; send 'Authorization: Bearer <token>' "
                                "(create one with `triage tokens create NAME`)",
                           headers={"WWW-Authenticate": "Bearer"})
        owner = token_owner(_store(), token.strip())
        if owner is None:
            security_log.warning("rejected API token on %s from %s", request.path, request.remote_addr)
            raise APIError(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
        g.client = owner
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def require_role(role: str) -> Callable[[F], F]:
    """Let a logged-in user through only with the role (admins may do everything)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if role == "admin" and not current_user.is_admin:
                security_log.warning("forbidden: %s (role %s) tried %s %s", current_user.name,
                                     current_user.role, request.method, request.path)
                abort(403)
            g.no_store = True
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


# Paths authenticated per request (bearer token, webhook signature), never by a login cookie.
API_PREFIX = "/api/"


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed session cookie, left unopened on the API (its calls carry a token or a signature)."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        """Return the cookie's session, or on the API a null session (no cookie read, none written)."""
        if request.path.startswith(API_PREFIX):
            # No signer built, no cookie parsed or set: a contact system's calls never log anyone in.
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Wire the session cookie, Flask-Login and CSRF protection into the app."""
    app.session_interface = CookieSessions()
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.login_message = "ログインしてください。"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(token: str) -> Account | None:
        lifetime, idle = session_limits(current_app.config)
        return load_session(_store(), token, lifetime=lifetime, idle=idle)
