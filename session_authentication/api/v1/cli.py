#!/usr/bin/env python3
"""Manage the users API's users from the command line (``bin/users``).

    python3 -m api.v1.cli create EMAIL [--first-name X] [--last-name Y]
                                       [--admin]
    python3 -m api.v1.cli list
    python3 -m api.v1.cli admin EMAIL_OR_ID [--revoke]
    python3 -m api.v1.cli delete EMAIL_OR_ID

The commands use the database the server uses with the same environment:
``DATABASE_URL``, else the SQLite file ``users_api.db`` in the working
directory (``bin/users`` and ``bin/serve`` both run in
session_authentication/). A password is never taken from the command
line: it is asked twice with a hidden prompt on a terminal, else read
from the first line of standard input.
"""
import contextlib
import sys
from typing import Iterator, Optional

import click
import redis
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from api.v1.auth.registry import UnknownAuthType, build_auth
from api.v1.config import ConfigError, Settings
from api.v1.views.validation import password_problem

from models.db import StorageError
from models.user import User

# The longest values the users table and the API accept.
MAX_EMAIL = 254
MAX_NAME = 255


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Turn a database failure into one line on stderr and status 1."""
    try:
        yield
    except StorageError as err:
        raise click.ClickException(str(err))
    except SQLAlchemyError as err:
        first = str(err.orig if getattr(err, "orig", None) else err)
        raise click.ClickException("database error: {}".format(
            first.splitlines()[0] if first else type(err).__name__))


def checked_text(label: str, value: Optional[str], limit: int) -> None:
    """Refuse text no database can store or longer than its column."""
    if value is None:
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise click.ClickException("{} is not valid UTF-8".format(label))
    if "\x00" in value:
        raise click.ClickException("{} holds a NUL character".format(label))
    if len(value) > limit:
        raise click.ClickException("{} is longer than {} characters".format(
            label, limit))


def read_password() -> str:
    """Ask for the password twice on a terminal, else read stdin's first
    line (without its line ending)."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True,
                            confirmation_prompt="Password (again)")
    line = sys.stdin.buffer.readline()
    try:
        return line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise click.ClickException("password is not valid UTF-8")


def find_user(email_or_id: str) -> Optional[User]:
    """Return the user with this id, else with this email, else None."""
    return User.get(email_or_id) or User.find_by_email(email_or_id)


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Database: DATABASE_URL, else users_api.db in "
                    "session_authentication/ (the one bin/serve uses).")
def users() -> None:
    """Create, list and delete the users of the users API."""


@users.command()
@click.argument("email")
@click.option("--first-name", help="The user's first name.")
@click.option("--last-name", help="The user's last name.")
@click.option("--admin", is_flag=True,
              help="An admin manages every user (production profile).")
def create(email: str, first_name: Optional[str],
           last_name: Optional[str], admin: bool) -> None:
    """Create a user who can log in with EMAIL and a password.

    The password is asked twice (hidden) on a terminal; otherwise the
    first line of standard input is the password:

        printf '%s\\n' "$PASSWORD" | bin/users create admin@example.com
    """
    if not email.strip():
        raise click.ClickException("email is empty")
    checked_text("email", email, MAX_EMAIL)
    checked_text("first name", first_name, MAX_NAME)
    checked_text("last name", last_name, MAX_NAME)
    password = read_password()
    if not password:
        raise click.ClickException(
            "password is empty" if sys.stdin.isatty() else
            "password is empty (give it on the first line of standard "
            "input, or run the command in a terminal to be asked)")
    try:
        minimum = Settings.load().min_password_length
    except ConfigError as err:
        raise click.ClickException(str(err))
    problem = password_problem(password, minimum)
    if problem is not None:
        raise click.ClickException(problem)
    email = email.strip()
    user = User(email=email, first_name=first_name, last_name=last_name)
    user.is_admin = admin
    try:
        user.password = password
    except ValueError as err:
        raise click.ClickException("cannot use this password: {}".format(
            err))
    duplicate = click.ClickException(
        "a user with email {} already exists".format(email))
    with storage_errors():
        if User.find_by_email(email) is not None:
            raise duplicate
        try:
            user.save()
        except IntegrityError:
            raise duplicate
    click.echo("created {} {} {}".format(
        "admin" if admin else "user", user.id, user.email))


@users.command(name="list")
def list_users() -> None:
    """Print one line per user: id, email, name, creation time (UTC)."""
    with storage_errors():
        found = User.all()
    if not found:
        click.echo("no users yet: create one with bin/users create EMAIL")
    for user in found:
        name = " ".join(part for part in (user.first_name, user.last_name)
                        if part) or "-"
        click.echo("{}\t{}\t{}\tcreated {}{}".format(
            user.id, user.email, name, user.to_json()["created_at"],
            "\tadmin" if user.is_admin else ""))


@users.command()
@click.argument("email_or_id")
@click.option("--revoke", is_flag=True, help="Take the admin flag away.")
def admin(email_or_id: str, revoke: bool) -> None:
    """Make a user an admin (or no longer one, with --revoke)."""
    with storage_errors():
        user = find_user(email_or_id)
        if user is None:
            raise click.ClickException(
                "no user with email or id {}".format(email_or_id))
        user.is_admin = not revoke
        user.save()
    click.echo("{} {} {}".format(
        "revoked admin of" if revoke else "made admin", user.id, user.email))


@users.command()
@click.argument("email_or_id")
def delete(email_or_id: str) -> None:
    """Delete the user with this email or id (and its sessions)."""
    with storage_errors():
        user = find_user(email_or_id)
        if user is None:
            raise click.ClickException(
                "no user with email or id {}".format(email_or_id))
        user.remove()
    end_sessions_elsewhere(user.id)
    click.echo("deleted user {} {}".format(user.id, user.email))


def end_sessions_elsewhere(user_id: str) -> None:
    """End a deleted user's sessions in the store AUTH_TYPE names.

    ``User.remove`` already deleted its SQL sessions; Redis sessions are
    deleted here. Memory sessions live in the server's process, out of
    reach: they stop working at once (the user is gone: 403) and go
    with the process.
    """
    try:
        mechanism = build_auth(Settings.load())
    except (ConfigError, UnknownAuthType):
        return
    if hasattr(mechanism, "redis"):
        try:
            mechanism.destroy_user_sessions(user_id)
        except redis.exceptions.RedisError as err:
            raise click.ClickException(
                "user deleted, but its Redis sessions could not be: {}"
                .format(err))


if __name__ == "__main__":
    users(prog_name="bin/users")
