#!/usr/bin/env python3
"""The app built by ``api.v1.app`` in this process, from the environment.

One app per process: ``create_app`` points the models at its database,
and the seed's ``from api.v1.app import auth`` in the views gives that
app's own mechanism.
"""
import sys
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask

from models import db
from models.user import User


@pytest.fixture
def module_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[Flask]:
    """Yield api.v1.app's app, built afresh on a temporary database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("DATABASE_URL",
                       "sqlite:///{}".format(tmp_path / "app.db"))
    monkeypatch.setenv("AUTH_TYPE", "session_db_auth")
    monkeypatch.setenv("LOGIN_RATE_LIMIT", "off")
    monkeypatch.delitem(sys.modules, "api.v1.app", raising=False)
    db.reset()
    from api.v1.app import app

    yield app
    sys.modules.pop("api.v1.app", None)
    db.configure(None)
    db.reset()


def test_login_twice_then_me_on_the_module_app(module_app: Flask) -> None:
    """Logging in twice and reading /users/me work on the app's database."""
    user = User(email="bob@hbtn.io")
    user.password = "pwd"
    user.save()
    client = module_app.test_client()
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
        module_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """PUT on a user deleted between its read and its write answers 404."""
    admin = User(email="admin@hbtn.io")
    admin.password = "pwd"
    admin.save()
    user = User(email="bob@hbtn.io")
    user.save()
    client = module_app.test_client()
    assert client.post("/api/v1/auth_session/login", data={
        "email": "admin@hbtn.io", "password": "pwd"}).status_code == 200
    real_get = User.get.__func__

    def get_then_delete(cls: type, user_id: str) -> object:
        """Read the user, then delete its row as a concurrent DELETE."""
        found = real_get(cls, user_id)
        if found is not None and user_id == user.id:
            real_get(cls, user_id).remove()
        return found

    monkeypatch.setattr(User, "get", classmethod(get_then_delete))
    response = client.put("/api/v1/users/" + user.id,
                          json={"first_name": "Bob"})
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not found"}
    assert User.count() == 1
