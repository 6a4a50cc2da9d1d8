#!/usr/bin/env python3
"""Serve an app's OpenAPI description and a Swagger UI page, offline.

``register_api_docs(app, prefix, description)`` adds three routes:

- ``GET <prefix>/openapi.json``: the description (OpenAPI 3.1, JSON),
  encoded once when the app is built;
- ``GET <prefix>/docs``: a Swagger UI page that loads it;
- ``GET <prefix>/docs/<asset>``: the page's script, style sheet and
  icon, served from the ``flask-swagger-ui`` package's copy of Swagger
  UI (no CDN: the page makes no request to another host, and its
  Content-Security-Policy forbids it).

``docs_paths(prefix, not_found)`` returns the same three routes as
OpenAPI path items, for the app's description (which lists every route
of the app, these included).
"""
import importlib.util
import json
from pathlib import Path
from typing import Optional

from flask import Flask, Response, abort, request, send_file

# Swagger UI's files served by the page, with their media types.
ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
INITIALIZER = "swagger-initializer.js"
# Swagger UI styles with inline styles and data: images; everything else
# comes from the app itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'")
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{base}/swagger-ui.css">
<link rel="icon" type="image/png" href="{base}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script src="{base}/{initializer}"></script>
</body>
</html>
"""
# validatorUrl null: Swagger UI would else send the description to an
# online validator.
INITIALIZER_JS = """window.onload = function () {{
  window.ui = SwaggerUIBundle({{
    url: {url},
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false
  }});
}};
"""


def swagger_ui_dist() -> Path:
    """Return the folder of Swagger UI's files in flask-swagger-ui.

    Found without importing the package (its blueprint is not used).
    """
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the flask-swagger-ui package is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "dist"


def register_api_docs(app: Flask, prefix: str, description: dict,
                      title: Optional[str] = None) -> None:
    """Add the description, docs page and asset routes under ``prefix``.

    ``prefix`` is "" for an app at the root, else like "/api/v1".
    """
    dist = swagger_ui_dist()
    encoded = json.dumps(description, indent=1).encode()
    title = title or description["info"]["title"]

    def openapi_json() -> Response:
        """Answer the app's OpenAPI description."""
        return Response(encoded, mimetype="application/json")

    def docs_page() -> Response:
        """Answer the Swagger UI page of the description."""
        base = request.script_root + prefix + "/docs"
        response = Response(PAGE.format(
            title=title, base=base, initializer=INITIALIZER),
            mimetype="text/html")
        response.headers["Content-Security-Policy"] = \
            CONTENT_SECURITY_POLICY
        return response

    def docs_asset(asset: str) -> Response:
        """Answer one file of the page; 404 for any other name."""
        if asset == INITIALIZER:
            url = request.script_root + prefix + "/openapi.json"
            return Response(INITIALIZER_JS.format(url=json.dumps(url)),
                            mimetype="application/javascript")
        if asset not in ASSETS:
            abort(404)
        return send_file(dist / asset, mimetype=ASSETS[asset],
                         max_age=3600)

    app.add_url_rule(prefix + "/openapi.json", "openapi_json",
                     openapi_json, methods=["GET"])
    app.add_url_rule(prefix + "/docs", "api_docs", docs_page,
                     methods=["GET"], strict_slashes=False)
    app.add_url_rule(prefix + "/docs/<asset>", "api_docs_asset",
                     docs_asset, methods=["GET"])


def docs_paths(prefix: str, not_found: dict) -> dict:
    """Return the OpenAPI path items of the three documentation routes.

    ``not_found`` is the app's 404 response object (its error body).
    """
    tags = ["documentation"]
    text = {"schema": {"type": "string"}}
    return {
        prefix + "/openapi.json": {"get": {
            "operationId": "get_openapi_description", "tags": tags,
            "summary": "This OpenAPI 3.1 description", "security": [],
            "responses": {"200": {
                "description": "The description, as JSON.",
                "content": {"application/json": {
                    "schema": {"type": "object"}}}}}}},
        prefix + "/docs": {"get": {
            "operationId": "get_api_docs_page", "tags": tags,
            "summary": "Interactive documentation (Swagger UI)",
            "security": [],
            "responses": {"200": {
                "description": "The Swagger UI page, which loads "
                               "openapi.json; it works offline.",
                "content": {"text/html": text}}}}},
        prefix + "/docs/{asset}": {"get": {
            "operationId": "get_api_docs_asset", "tags": tags,
            "summary": "A file of the documentation page",
            "security": [],
            "parameters": [{
                "name": "asset", "in": "path", "required": True,
                "schema": {"type": "string",
                           "enum": sorted(list(ASSETS) + [INITIALIZER])}}],
            "responses": {
                "200": {"description": "The file.", "content": {
                    media: text for media in sorted(set(ASSETS.values()))}},
                "404": not_found}}},
    }
