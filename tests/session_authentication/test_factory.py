#!/usr/bin/env python3
"""Apps built in-process by ``create_app`` keep their own database.

The login view imports ``api.v1.app`` (as the seed demands), which builds
the module-level ``app`` from the environment; that must not move an app
built with a ``DATABASE_URL`` override onto another database.
"""
import sys
from pathlib import Path
from typing import Iterator

import pytest

from api.v1.factory import create_app
from models import db
from models.user import User


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[Path]:
    """Run in a temporary folder, with api.v1.app not yet imported."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("DATABASE_URL",
                       "sqlite:///{}".format(tmp_path / "env.db"))
    monkeypatch.delenv("AUTH_TYPE", raising=False)
    monkeypatch.delitem(sys.modules, "api.v1.app", raising=False)
    db.reset()
    yield tmp_path
    sys.modules.pop("api.v1.app", None)
    db.configure(None)
    db.reset()


def test_app_with_database_override_keeps_it_after_login(
        isolated: Path) -> None:
    """Logging in twice on an app built with DATABASE_URL works on it."""
    url = "sqlite:///{}".format(isolated / "override.db")
    app = create_app({"DATABASE_URL": url, "AUTH_TYPE": "session_db_auth",
                      "LOGIN_RATE_LIMIT": "off"})
    user = User(email="bob@hbtn.io")
    user.password = "pwd"
    user.save()
    client = app.test_client()
    for _attempt in (1, 2):
        response = client.post("/api/v1/auth_session/login",
                               data={"email": "bob@hbtn.io",
                                     "password": "pwd"})
        assert response.status_code == 200, response.get_json()
    me = client.get("/api/v1/users/me")
    assert me.status_code == 200
    assert me.get_json()["email"] == "bob@hbtn.io"
    assert client.get("/api/v1/stats").get_json() == {"users": 1}


def test_update_of_a_user_deleted_meanwhile_is_404(
        isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PUT on a user deleted between its read and its write answers 404."""
    url = "sqlite:///{}".format(isolated / "override.db")
    app = create_app({"DATABASE_URL": url})
    user = User(email="bob@hbtn.io")
    user.save()
    real_get = User.get.__func__

    def get_then_delete(cls: type, user_id: str) -> object:
        """Read the user, then delete its row as a concurrent DELETE."""
        found = real_get(cls, user_id)
        if found is not None:
            real_get(cls, user_id).remove()
        return found

    monkeypatch.setattr(User, "get", classmethod(get_then_delete))
    response = app.test_client().put("/api/v1/users/" + user.id,
                                     json={"first_name": "Bob"})
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not found"}
    assert User.count() == 0
