#!/usr/bin/env python3
"""Password reset: single-use, expiring tokens stored only as digests.

The clock is injected into ``Auth`` (no sleeping): tokens expire
``RESET_TOKEN_TTL`` seconds after issue (60 in these tests).
"""
import hashlib
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.user_authentication_service.conftest import FakeClock


def stored_reset_token(database_url: str, email: str) -> Any:
    """Read a user's reset_token column straight from the database."""
    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT reset_token FROM users WHERE email = :e"),
                {"e": email}).scalar()
    finally:
        engine.dispose()


def test_token_works_once_not_twice(auth: Any) -> None:
    """A reset token sets the password once; reusing it is refused."""
    auth.register_user("r@me.com", "old")
    token = auth.get_reset_password_token("r@me.com")
    auth.update_password(token, "new")
    assert auth.valid_login("r@me.com", "new")
    assert not auth.valid_login("r@me.com", "old")
    with pytest.raises(ValueError):
        auth.update_password(token, "newer")
    assert auth.valid_login("r@me.com", "new")


def test_token_expires_after_ttl(auth: Any, clock: FakeClock) -> None:
    """A token is good just before RESET_TOKEN_TTL and refused at it."""
    auth.register_user("r@me.com", "old")
    token = auth.get_reset_password_token("r@me.com")
    clock.advance(60)
    with pytest.raises(ValueError):
        auth.update_password(token, "new")
    assert auth.valid_login("r@me.com", "old")
    fresh = auth.get_reset_password_token("r@me.com")
    clock.advance(59.5)
    auth.update_password(fresh, "new")
    assert auth.valid_login("r@me.com", "new")


def test_reset_ends_the_session(auth: Any) -> None:
    """After a reset the session id from before no longer finds the user."""
    auth.register_user("r@me.com", "old")
    session_id = auth.create_session("r@me.com")
    assert auth.get_user_from_session_id(session_id).email == "r@me.com"
    auth.update_password(auth.get_reset_password_token("r@me.com"), "new")
    assert auth.get_user_from_session_id(session_id) is None


def test_only_a_digest_is_stored(auth: Any, database_url: str) -> None:
    """The reset_token column holds the token's SHA-256, never the token."""
    auth.register_user("r@me.com", "old")
    token = auth.get_reset_password_token("r@me.com")
    stored = stored_reset_token(database_url, "r@me.com")
    assert stored != token
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    auth.update_password(token, "new")
    assert stored_reset_token(database_url, "r@me.com") is None


def test_new_token_replaces_the_previous_one(auth: Any) -> None:
    """Only the latest issued token works."""
    auth.register_user("r@me.com", "old")
    first = auth.get_reset_password_token("r@me.com")
    second = auth.get_reset_password_token("r@me.com")
    with pytest.raises(ValueError):
        auth.update_password(first, "new")
    auth.update_password(second, "new")


def test_token_of_another_email_is_refused_and_kept(auth: Any) -> None:
    """A token sent with someone else's email is refused, not consumed."""
    auth.register_user("a@me.com", "pa")
    auth.register_user("b@me.com", "pb")
    token = auth.get_reset_password_token("a@me.com")
    with pytest.raises(ValueError):
        auth.update_password(token, "new", email="b@me.com")
    auth.update_password(token, "new", email="a@me.com")
    assert auth.valid_login("a@me.com", "new")


@pytest.mark.parametrize("token", [
    "", "nope", "00000000-0000-0000-0000-000000000000",
    "5a006849-343e-4a48-ba4e-bbd523fcca58", "x" * 300])
def test_malformed_or_unknown_tokens_are_refused(auth: Any,
                                                 token: str) -> None:
    """Garbage, unknown and wrong-version tokens raise ValueError."""
    auth.register_user("r@me.com", "old")
    auth.get_reset_password_token("r@me.com")
    with pytest.raises(ValueError):
        auth.update_password(token, "new")


def test_unknown_email_gets_no_token(auth: Any) -> None:
    """Asking a token for an unknown email raises ValueError."""
    with pytest.raises(ValueError):
        auth.get_reset_password_token("ghost@me.com")


def test_http_reset_flow_once_then_403(make_app: Any,
                                       clock: FakeClock) -> None:
    """Over HTTP: 403 for an unknown email, 200 once, then 403, expiry."""
    client = make_app().test_client()
    client.post("/users", data={"email": "r@me.com", "password": "old"})
    login = client.post("/sessions",
                        data={"email": "r@me.com", "password": "old"})
    assert login.status_code == 200
    assert client.post("/reset_password",
                       data={"email": "ghost@me.com"}).status_code == 403
    issued = client.post("/reset_password", data={"email": "r@me.com"})
    assert issued.status_code == 200
    token = issued.get_json()["reset_token"]
    assert issued.get_json() == {"email": "r@me.com", "reset_token": token}
    form = {"email": "r@me.com", "reset_token": token,
            "new_password": "new"}
    done = client.put("/reset_password", data=form)
    assert done.status_code == 200
    assert done.get_json() == {"email": "r@me.com",
                               "message": "Password updated"}
    assert client.get("/profile").status_code == 403
    assert client.put("/reset_password", data=form).status_code == 403
    late = client.post("/reset_password", data={"email": "r@me.com"})
    clock.advance(61)
    form["reset_token"] = late.get_json()["reset_token"]
    assert client.put("/reset_password", data=form).status_code == 403
