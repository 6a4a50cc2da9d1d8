#!/usr/bin/env python3
"""The API's views, all on the app_views blueprint under /api/v1."""
from flask import Blueprint

app_views = Blueprint("app_views", __name__, url_prefix="/api/v1")

from api.v1.views.index import *  # noqa: E402,F401,F403
from api.v1.views.users import *  # noqa: E402,F401,F403
from api.v1.views.session_auth import *  # noqa: E402,F401,F403
