#!/usr/bin/env python3
"""Views of the User objects: list, read (including "me"), create,
update and delete.
"""
from typing import Tuple

from flask import Response, abort, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from api.v1.views import app_views
from api.v1.views.validation import email_problem, json_object, text_fields
from models.user import PasswordTooLong, User


def _user_or_404(user_id: str) -> User:
    """Return the User with this id ("me": the current user) or abort."""
    if user_id == "me":
        current = getattr(request, "current_user", None)
        if current is None:
            abort(404)
        return current
    user = User.get(user_id)
    if user is None:
        abort(404)
    return user


@app_views.route("/users", methods=["GET"], strict_slashes=False)
def view_all_users() -> Response:
    """Return every User as a JSON list."""
    return jsonify([user.to_json() for user in User.all()])


@app_views.route("/users/<user_id>", methods=["GET"], strict_slashes=False)
def view_one_user(user_id: str = None) -> Response:
    """Return one User; "me" is the authenticated user."""
    return jsonify(_user_or_404(user_id).to_json())


@app_views.route("/users/<user_id>", methods=["DELETE"],
                 strict_slashes=False)
def delete_user(user_id: str = None) -> Tuple[Response, int]:
    """Delete a User and end its sessions in every store; answer {}."""
    from api.v1.app import auth

    user = User.get(user_id)
    if user is None:
        abort(404)
    user.remove()
    if hasattr(auth, "destroy_user_sessions"):
        auth.destroy_user_sessions(user.id)
    return jsonify({}), 200


@app_views.route("/users", methods=["POST"], strict_slashes=False)
def create_user() -> Tuple[Response, int]:
    """Create a User from a JSON body with email and password."""
    fields = text_fields(json_object(), "email", "password",
                         "first_name", "last_name")
    if fields is None:
        return jsonify({"error": "Wrong format"}), 400
    email, password = fields["email"], fields["password"]
    if not email:
        return jsonify({"error": "email missing"}), 400
    if not password:
        return jsonify({"error": "password missing"}), 400
    problem = email_problem(email)
    if problem is not None:
        return jsonify({"error": "Can't create User: " + problem}), 400
    user = User(email=email, first_name=fields["first_name"],
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
    user = User.get(user_id)
    if user is None:
        abort(404)
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
