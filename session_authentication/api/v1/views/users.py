#!/usr/bin/env python3
"""Views of the User objects: list, read (including "me"), create,
update and delete, and a user's password change.

In the production profile (APP_PROFILE=production) these views also
authorize: a user reads, changes and deletes only itself; an admin
(``bin/users admin EMAIL``) manages everyone; only an admin creates
users, unless OPEN_SIGNUP lets anyone sign up.
"""
from typing import Optional, Tuple, Union

from flask import Response, abort, current_app, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from api.v1.views import app_views
from api.v1.views.pagination import BadPage, next_link, page_request
from api.v1.views.validation import (email_problem, json_object,
                                     password_problem, text_fields)
from models.user import PasswordTooLong, User


def _production() -> bool:
    """Tell whether the production profile is on."""
    return current_app.config["SETTINGS"].production


def _current() -> Optional[User]:
    """Return the authenticated user of the request, or None."""
    return getattr(request, "current_user", None)


def _is_admin() -> bool:
    """Tell whether the request's user is an admin."""
    current = _current()
    return current is not None and current.is_admin


def _user_or_404(user_id: str) -> User:
    """Return the User with this id ("me": the current user) or abort;
    in production, 403 for another user unless the caller is an admin
    (checked before the lookup, so ids cannot be probed)."""
    current = _current()
    if user_id == "me":
        if current is None:
            abort(404)
        return current
    if _production() and not _is_admin() and (
            current is None or current.id != user_id):
        abort(403)
    user = User.get(user_id)
    if user is None:
        abort(404)
    return user


def _written_user(user_id: str) -> User:
    """Return the User a PUT or DELETE names, or abort. The seed looks
    the id up as given, so "me" names nobody there (404); production
    takes it for the current user, as GET does."""
    if user_id == "me" and not _production():
        abort(404)
    return _user_or_404(user_id)


@app_views.route("/users", methods=["GET"], strict_slashes=False)
def view_all_users() -> Union[Response, Tuple[Response, int]]:
    """Return the Users as a JSON list (production: admins only).

    ``?limit=N&after=<cursor>`` gives one page in (created_at, id)
    order, with a ``Link: <...>; rel="next"`` header while more users
    follow. Without them the seed profile answers the whole list, as
    the seed does; production answers the first page.
    """
    if _production() and not _is_admin():
        abort(403)
    try:
        wanted = page_request(request.args, _production())
    except BadPage as err:
        return jsonify({"error": str(err)}), 400
    if wanted is None:
        return jsonify([user.to_json() for user in User.all()])
    limit, after = wanted
    users, more = User.page(limit, after)
    response = jsonify([user.to_json() for user in users])
    if more:
        response.headers["Link"] = next_link(request.path, limit,
                                              users[-1])
    return response


@app_views.route("/users/<user_id>", methods=["GET"], strict_slashes=False)
def view_one_user(user_id: str = None) -> Response:
    """Return one User; "me" is the authenticated user."""
    return jsonify(_user_or_404(user_id).to_json())


@app_views.route("/users/<user_id>", methods=["DELETE"],
                 strict_slashes=False)
def delete_user(user_id: str = None) -> Tuple[Response, int]:
    """Delete a User and end its sessions in every store; answer {}."""
    from api.v1.app import auth

    user = _written_user(user_id)
    user.remove()
    if hasattr(auth, "destroy_user_sessions"):
        auth.destroy_user_sessions(user.id)
    return jsonify({}), 200


@app_views.route("/users", methods=["POST"], strict_slashes=False)
def create_user() -> Tuple[Response, int]:
    """Create a User from a JSON body with email and password."""
    settings = current_app.config["SETTINGS"]
    if settings.production and not settings.open_signup \
            and not _is_admin():
        abort(403)
    fields = text_fields(json_object(), "email", "password",
                         "first_name", "last_name")
    if fields is None:
        return jsonify({"error": "Wrong format"}), 400
    email, password = fields["email"], fields["password"]
    if not email:
        return jsonify({"error": "email missing"}), 400
    if not password:
        return jsonify({"error": "password missing"}), 400
    problem = (email_problem(email, strict=settings.production)
               or password_problem(password, settings.min_password_length))
    if problem is not None:
        return jsonify({"error": "Can't create User: " + problem}), 400
    user = User(email=email.strip(), first_name=fields["first_name"],
                last_name=fields["last_name"])
    try:
        user.password = password
    except PasswordTooLong as err:
        return jsonify({"error": "Can't create User: {}".format(err)}), 400
    try:
        user.save()
    except IntegrityError:
        return jsonify(
            {"error": "Can't create User: email already exists"}), 400
    return jsonify(user.to_json()), 201


@app_views.route("/users/<user_id>", methods=["PUT"], strict_slashes=False)
def update_user(user_id: str = None) -> Tuple[Response, int]:
    """Update a User's first_name and last_name from a JSON body."""
    user = _written_user(user_id)
    fields = text_fields(json_object(), "first_name", "last_name")
    if fields is None:
        return jsonify({"error": "Wrong format"}), 400
    if fields["first_name"] is not None:
        user.first_name = fields["first_name"]
    if fields["last_name"] is not None:
        user.last_name = fields["last_name"]
    try:
        user.save()
    except StaleDataError:
        abort(404)
    return jsonify(user.to_json()), 200


@app_views.route("/users/me/password", methods=["PUT"],
                 strict_slashes=False)
def change_my_password() -> Tuple[Response, int]:
    """Change the current user's password: the current one is required
    (JSON ``current_password``, ``new_password``); every other session
    of the user ends, this request's stays."""
    from api.v1.app import auth

    user = _current()
    if user is None:
        abort(404)
    fields = text_fields(json_object(), "current_password",
                         "new_password")
    if fields is None:
        return jsonify({"error": "Wrong format"}), 400
    if not fields["current_password"]:
        return jsonify({"error": "current_password missing"}), 400
    if not fields["new_password"]:
        return jsonify({"error": "new_password missing"}), 400
    address = request.remote_addr or "-"
    auth.throttle_check(user.email or "", address)
    if not user.is_valid_password(fields["current_password"]):
        auth.throttle_failed(user.email or "", address)
        return jsonify({"error": "wrong password"}), 403
    problem = password_problem(
        fields["new_password"],
        current_app.config["SETTINGS"].min_password_length)
    if problem is not None:
        return jsonify({"error": problem}), 400
    try:
        user.password = fields["new_password"]
    except PasswordTooLong as err:
        return jsonify({"error": str(err)}), 400
    user.save()
    ended = 0
    if hasattr(auth, "end_other_sessions"):
        ended = auth.end_other_sessions(user.id, auth.session_cookie(request))
    return jsonify({"ended_sessions": ended}), 200
