#!/usr/bin/env python3
"""Unit tests of the models (Base, User, UserSession) on real databases."""
from datetime import datetime, timezone
from typing import Iterator

import bcrypt
import pytest

import models.user
from models import db, schema
from models.base import TIMESTAMP_FORMAT
from models.user import PasswordTooLong, User
from models.user_session import UserSession


@pytest.fixture(autouse=True)
def storage(database_url: str, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[str]:
    """Point the models at this test's throw-away database."""
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    db.reset()
    db.configure(database_url)
    yield database_url
    db.reset()
    db.configure(None)


def new_user(email: str = "bob@hbtn.io", pwd: str = "pwd") -> User:
    """Store and return a user."""
    user = User(email=email)
    user.password = pwd
    user.save()
    return user


def test_new_object_has_uuid_and_utc_times() -> None:
    """A new object gets a uuid4 id and aware UTC creation times."""
    user = User()
    assert len(user.id) == 36 and user.id.count("-") == 4
    assert user.created_at.tzinfo is not None
    assert user.created_at == user.updated_at
    assert User().id != user.id


def test_object_from_kwargs_reads_timestamps() -> None:
    """Building from stored values keeps id and parses timestamps."""
    user = User(id="abc", created_at="2017-09-25 01:55:17",
                updated_at=datetime(2018, 1, 1, tzinfo=timezone.utc),
                email="a@b.c", first_name="A", last_name=None)
    assert user.id == "abc"
    assert user.created_at.strftime(TIMESTAMP_FORMAT) == \
        "2017-09-25 01:55:17"
    assert user.to_json() == {
        "id": "abc", "email": "a@b.c", "first_name": "A",
        "last_name": None, "created_at": "2017-09-25 01:55:17",
        "updated_at": "2018-01-01 00:00:00"}


def test_to_json_never_shows_the_password() -> None:
    """to_json leaves out _password; for_serialization includes it."""
    user = new_user()
    assert "_password" not in user.to_json()
    assert "password" not in user.to_json()
    assert user.to_json(True)["_password"].startswith(
        models.user.PREHASH_PREFIX + "$2b$04$")


def test_save_get_search_count_remove() -> None:
    """The active-record interface stores, finds, counts and deletes."""
    assert User.count() == 0 and User.all() == []
    bob = new_user("bob@hbtn.io")
    ann = new_user("ann@hbtn.io")
    assert User.count() == 2
    assert User.get(bob.id) == bob
    assert User.get("nope") is None and User.get(None) is None
    assert User.get(89) is None and User.get("a\x00b") is None
    assert User.search({"email": "ann@hbtn.io"}) == [ann]
    assert User.search({"email": "x@y.z"}) == []
    assert User.search({"no_such_attribute": 1}) == []
    assert User.search({"email": "a\x00"}) == []
    assert set(User.search()) == {bob, ann}
    assert User.all() == [bob, ann]
    bob.remove()
    assert User.count() == 1 and User.get(bob.id) is None


def test_save_updates_and_touches_updated_at() -> None:
    """save() on a stored object updates the row and updated_at."""
    user = new_user()
    before = user.updated_at
    user.first_name = "Bob"
    user.save()
    again = User.get(user.id)
    assert again.first_name == "Bob"
    assert again.updated_at >= before
    assert again.created_at.replace(microsecond=0) == \
        user.created_at.replace(microsecond=0)


def test_objects_read_back_can_be_changed_and_removed() -> None:
    """Objects from get() and search() save as updates and remove."""
    user = new_user()
    found = User.get(user.id)
    found.last_name = "Dylan"
    found.save()
    assert User.count() == 1
    assert User.search({"email": "bob@hbtn.io"})[0].last_name == "Dylan"
    listed = User.search({"last_name": "Dylan"})[0]
    assert listed.is_valid_password("pwd")
    listed.remove()
    assert User.count() == 0 and User.get(user.id) is None


def test_data_survives_a_new_engine() -> None:
    """Rows are read back after the process drops its connections."""
    user = new_user()
    db.reset()
    assert User.get(user.id).email == "bob@hbtn.io"


def test_equality_is_by_class_and_id() -> None:
    """Objects are equal when of the same class with the same id."""
    assert User(id="x") == User(id="x")
    assert User(id="x") != User(id="y")
    assert User(id="x") != UserSession(id="x")
    assert len({User(id="x"), User(id="x")}) == 1


@pytest.mark.parametrize("value", [None, 89, b"bytes", ["a"]])
def test_password_not_a_string_stores_none(value: object) -> None:
    """Setting a password that is not a str stores no hash."""
    user = User()
    user.password = value
    assert user.password is None
    assert not user.is_valid_password(value)


def test_password_is_bcrypt_hashed_and_checked() -> None:
    """The stored value is a bcrypt hash that only the password opens."""
    user = User()
    user.password = "H0lbertonSchool98!"
    assert user.password != "H0lbertonSchool98!"
    assert "H0lbertonSchool98!" not in user.password
    assert user.password.startswith(models.user.PREHASH_PREFIX + "$2b$")
    assert user.is_valid_password("H0lbertonSchool98!")
    assert not user.is_valid_password("h0lbertonSchool98!")
    assert not user.is_valid_password("")
    assert not user.is_valid_password(None)
    assert not user.is_valid_password(89)
    assert not User().is_valid_password("anything")


def test_long_passwords_of_any_script_are_whole() -> None:
    """64 characters of any script (128 bytes of "é") are accepted, and
    every character counts: no silent cut at bcrypt's 72 bytes."""
    user = User()
    user.password = "é" * 64
    assert user.is_valid_password("é" * 64)
    assert not user.is_valid_password("é" * 63)
    user.password = "x" * 100
    assert not user.is_valid_password("x" * 72)
    assert not user.is_valid_password("x" * 99 + "y")
    user.password = "x" * 1024
    assert user.is_valid_password("x" * 1024)
    with pytest.raises(PasswordTooLong):
        user.password = "x" * 1025


def test_older_plain_bcrypt_hashes_work_and_are_upgraded() -> None:
    """A hash of the older format (bcrypt of the password itself) is
    checked as before and replaced by the current format at login."""
    user = new_user()
    user._password = bcrypt.hashpw(b"old pwd", bcrypt.gensalt(4)).decode()
    user.save()
    assert models.user.needs_rehash(user.password)
    assert user.is_valid_password("old pwd")
    user.rehash_password("old pwd")
    stored = User.get(user.id)
    assert stored.password.startswith(models.user.PREHASH_PREFIX)
    assert not models.user.needs_rehash(stored.password)
    assert stored.is_valid_password("old pwd")


def test_hash_of_another_cost_is_replaced_at_login(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After BCRYPT_ROUNDS changes, a successful check rehashes."""
    user = new_user()
    assert "$04$" in user.password
    monkeypatch.setenv("BCRYPT_ROUNDS", "5")
    assert models.user.needs_rehash(user.password)
    user.rehash_password("pwd")
    assert "$05$" in User.get(user.id).password


def test_bcrypt_cost_follows_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """BCRYPT_ROUNDS sets the cost; garbage falls back to 12."""
    user = User()
    user.password = "pwd"
    assert user.password.startswith(models.user.PREHASH_PREFIX + "$2b$04$")
    monkeypatch.setenv("BCRYPT_ROUNDS", "5")
    user.password = "pwd"
    assert user.password.startswith(models.user.PREHASH_PREFIX + "$2b$05$")


@pytest.mark.parametrize("email, first, last, shown", [
    (None, None, None, ""),
    ("bob@hbtn.io", None, None, "bob@hbtn.io"),
    ("bob@hbtn.io", None, "Dylan", "Dylan"),
    ("bob@hbtn.io", "Bob", None, "Bob"),
    ("bob@hbtn.io", "Bob", "Dylan", "Bob Dylan"),
])
def test_display_name(email: str, first: str, last: str,
                      shown: str) -> None:
    """display_name follows the baseline's rules."""
    user = User(email=email, first_name=first, last_name=last)
    assert user.display_name() == shown


def test_email_is_unique() -> None:
    """A second user with the same email cannot be stored."""
    from sqlalchemy.exc import IntegrityError

    new_user("bob@hbtn.io")
    with pytest.raises(IntegrityError):
        new_user("bob@hbtn.io")
    assert User.count() == 1


def test_user_session_rows_go_with_their_user() -> None:
    """UserSession rows store user_id/session_id and go with the user."""
    user = new_user()
    UserSession(user_id=user.id, session_id="s1").save()
    found = UserSession.search({"session_id": "s1"})
    assert [row.user_id for row in found] == [user.id]
    user.remove()
    assert UserSession.count() == 0


def test_schema_belongs_to_alembic(storage: str) -> None:
    """The tables were made by the migrations, versioned at the head."""
    from sqlalchemy import inspect

    names = set(inspect(db.engine()).get_table_names())
    assert {"api_users", "api_user_sessions",
            schema.VERSION_TABLE} <= names
    with db.engine().connect() as conn:
        version = conn.exec_driver_sql(
            "SELECT version_num FROM " + schema.VERSION_TABLE).scalar()
    assert version == schema.head_revision(schema.alembic_config())
    assert version == "0005"


def test_migrations_match_the_models(storage: str) -> None:
    """What the migrations built is what the models describe: Alembic's
    comparison finds no column, index or type to add or drop."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from models.base import Model

    with db.engine().connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": False,
            "include_name": lambda name, kind, parent: (
                kind != "table" or name in Model.metadata.tables)})
        assert compare_metadata(context, Model.metadata) == []


def test_failing_query_hides_its_parameters() -> None:
    """An SQL error never shows the query's values (hashes, ids); only
    the database's own message may name the duplicate key."""
    from sqlalchemy.exc import IntegrityError

    new_user("secret@hbtn.io")
    duplicate = User(email="secret@hbtn.io")
    duplicate.password = "pwd"
    with pytest.raises(IntegrityError) as caught:
        duplicate.save()
    assert duplicate.password not in str(caught.value)
    assert duplicate.id not in str(caught.value)
    assert "hidden" in str(caught.value)
