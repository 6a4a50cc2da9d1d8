#!/usr/bin/env python3
"""What an OpenAPI library costs per request: the measurement behind the
choice of hand-written descriptions (docs/users-api.md, "OpenAPI").

The same route, ``GET /users/<user_id>`` answering a four-field JSON
object, is built five ways: plain Flask (what the apps are, and what a
hand-written or apispec-built description leaves them), flask-openapi3
(pydantic path and response models), spectree (pydantic response
validation), and flask-smorest (marshmallow response schema). Each app
is called in-process through its WSGI callable, so no server or network
noise is measured; the figure is microseconds per request and its ratio
to plain Flask, best of REPEATS rounds.

Not part of ``bin/bench`` (it needs libraries the project does not
use): run it in a throw-away virtual environment::

    python3 -m venv /tmp/oa && /tmp/oa/bin/pip install flask \
        flask-openapi3 spectree flask-smorest apispec pydantic
    /tmp/oa/bin/python bench/openapi_options.py
"""
import time
from typing import Callable, Dict

from werkzeug.test import EnvironBuilder

REQUESTS = 5000
REPEATS = 5
USER = {"id": "42", "email": "bob@hbtn.io", "first_name": None,
        "last_name": None}


def plain_flask() -> Callable:
    """Return the route on plain Flask (hand-written description)."""
    from flask import Flask, jsonify

    app = Flask("plain")

    @app.get("/users/<user_id>")
    def user(user_id: str) -> object:
        """Answer the user with this id."""
        return jsonify(dict(USER, id=user_id))

    return app


def flask_openapi3() -> Callable:
    """Return the route on flask-openapi3 with pydantic models."""
    from typing import Optional

    from flask_openapi3 import OpenAPI
    from pydantic import BaseModel

    class Path(BaseModel):
        """The path parameters of the route."""

        user_id: str

    class User(BaseModel):
        """The JSON object the route answers."""

        id: str
        email: str
        first_name: Optional[str] = None
        last_name: Optional[str] = None

    app = OpenAPI("openapi3", validation_error_status=400)

    @app.get("/users/<user_id>", responses={200: User})
    def user(path: Path) -> object:
        """Answer the user with this id."""
        return User(**dict(USER, id=path.user_id)).model_dump()

    return app


def spectree_app() -> Callable:
    """Return the route on spectree with a validated response model."""
    from typing import Optional

    from flask import Flask
    from pydantic import BaseModel
    from spectree import Response, SpecTree

    class User(BaseModel):
        """The JSON object the route answers."""

        id: str
        email: str
        first_name: Optional[str] = None
        last_name: Optional[str] = None

    app = Flask("spectree")
    api = SpecTree("flask")

    @app.get("/users/<user_id>")
    @api.validate(resp=Response(HTTP_200=User))
    def user(user_id: str) -> object:
        """Answer the user with this id."""
        return User(**dict(USER, id=user_id))

    api.register(app)
    return app


def flask_smorest() -> Callable:
    """Return the route on flask-smorest with a marshmallow schema."""
    import marshmallow as ma
    from flask import Flask
    from flask_smorest import Api, Blueprint

    class User(ma.Schema):
        """The JSON object the route answers."""

        id = ma.fields.String()
        email = ma.fields.String()
        first_name = ma.fields.String(allow_none=True)
        last_name = ma.fields.String(allow_none=True)

    app = Flask("smorest")
    app.config.update(API_TITLE="bench", API_VERSION="1",
                      OPENAPI_VERSION="3.1.0")
    api = Api(app)
    blp = Blueprint("users", "users")

    @blp.route("/users/<user_id>")
    @blp.response(200, User)
    def user(user_id: str) -> object:
        """Answer the user with this id."""
        return dict(USER, id=user_id)

    api.register_blueprint(blp)
    return app


def per_request_us(app: Callable) -> float:
    """Return the best microseconds per in-process request."""
    environ = EnvironBuilder(path="/users/42").get_environ()

    def start_response(status: str, headers: list) -> None:
        """Check the status of the answer."""
        assert status.startswith("200"), status

    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(REQUESTS):
            b"".join(app(dict(environ), start_response))
        best = min(best, (time.perf_counter() - started) / REQUESTS)
    return best * 1e6


def main() -> None:
    """Measure every option and print a Markdown table."""
    builders: Dict[str, Callable] = {
        "plain Flask (hand-written description, apispec)": plain_flask,
        "flask-openapi3 4 (pydantic)": flask_openapi3,
        "spectree 3 (pydantic response validation)": spectree_app,
        "flask-smorest 0.47 (marshmallow)": flask_smorest,
    }
    anchor = None
    print("| option | µs/request | ratio to plain Flask |")
    print("|---|---|---|")
    for name, build in builders.items():
        cost = per_request_us(build())
        anchor = anchor or cost
        print("| {} | {:.0f} | {:.2f}x |".format(name, cost, cost / anchor))


if __name__ == "__main__":
    main()
