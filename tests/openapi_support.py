#!/usr/bin/env python3
"""Checks of an app's OpenAPI description against its code and seeds.

- ``assert_routes_described(app, description, where)``: every URL rule
  and method of the Flask app is an operation of the description and
  every operation is a rule; a failure names the missing route and its
  endpoint, and where to describe it. HEAD and OPTIONS, which Flask
  adds to every rule by itself, are not listed.
- ``validate_exchange(description, Exchange)``: a seed transcript's
  request (path, method, body fields, credentials) and answer (status,
  JSON body, cookie) fit the description.
- ``assert_valid_openapi_31``: the document is OpenAPI 3.1.
"""
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import Flask
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options",
           "trace"}
RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def assert_valid_openapi_31(description: dict) -> None:
    """Fail unless the document is a valid OpenAPI 3.1 description."""
    assert description.get("openapi", "").startswith("3.1.")
    OpenAPIV31SpecValidator(description).validate()


def routes_of(app: Flask) -> dict:
    """Return {(OpenAPI path, METHOD): endpoint} of the app's URL rules."""
    routes = {}
    for rule in app.url_map.iter_rules():
        path = RULE_ARGUMENT.sub(r"{\1}", rule.rule)
        for method in sorted(rule.methods - AUTOMATIC_METHODS):
            routes[(path, method)] = rule.endpoint
    return routes


def operations_of(description: dict) -> set:
    """Return the (path, METHOD) pairs the description has operations for."""
    return {(path, method.upper())
            for path, item in description["paths"].items()
            for method in item if method in METHODS}


def assert_routes_described(app: Flask, description: dict,
                            where: str) -> None:
    """Fail, naming each one, on routes missing from the description
    and on described operations that no route serves."""
    routes = routes_of(app)
    operations = operations_of(description)
    problems = [
        "route {} {} (endpoint {!r}) is not in the OpenAPI description: "
        "describe it in {}".format(method, path, endpoint, where)
        for (path, method), endpoint in sorted(routes.items())
        if (path, method) not in operations]
    problems += [
        "{} {} is described in {} but the app has no such route".format(
            method, path, where)
        for path, method in sorted(operations - set(routes))]
    assert not problems, "\n".join(problems)


@dataclass
class Exchange:
    """One request and answer of a seed transcript."""

    method: str
    path: str
    status: int
    body: Any = None
    form: Optional[dict] = None
    json: Optional[dict] = None
    headers: dict = field(default_factory=dict)
    cookies: dict = field(default_factory=dict)
    sets_cookie: Optional[str] = None


def find_operation(description: dict, method: str, path: str) -> tuple:
    """Return (path template, path item, operation or None) for a
    concrete path; routes are slash tolerant (/status == /status/).
    Templates with fewer parameters match first, as OpenAPI says
    (/jobs/{type}/{state}/stats before /jobs/{type}/{state}/{span})."""
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    for template, item in sorted(description["paths"].items(),
                                 key=lambda pair: pair[0].count("{")):
        pattern = re.escape(template)
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        if re.fullmatch(pattern, path):
            return template, item, item.get(method.lower())
    raise AssertionError("{} is not a path of the description".format(path))


def _resolve(description: dict, node: dict) -> dict:
    """Follow a local $ref of the description."""
    while "$ref" in node:
        target: Any = description
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validate(description: dict, schema: dict, value: Any) -> None:
    """Validate a value against a schema of the description (its local
    references resolve inside the description)."""
    root = dict(schema, components=description.get("components", {}))
    Draft202012Validator(root).validate(value)


def _security_credentials(description: dict, operation: dict) -> set:
    """Return the cookie names and headers the operation's security
    schemes read."""
    names = set()
    schemes = description.get("components", {}).get("securitySchemes", {})
    for requirement in operation.get("security",
                                     description.get("security", [])):
        for name in requirement:
            scheme = schemes[name]
            if scheme["type"] == "apiKey":
                names.add((scheme["in"], scheme["name"]))
            elif scheme["type"] == "http":
                names.add(("header", "Authorization"))
    return names


def validate_exchange(description: dict, exchange: Exchange) -> None:
    """Fail unless a seed exchange fits the description.

    A method the path does not describe must be answered 405; else the
    status must be described, a JSON body must fit its schema, the
    request body's fields must be ones the operation reads, and a
    cookie sent must be the one its security scheme names.
    """
    _, _, operation = find_operation(
        description, exchange.method, exchange.path)
    if operation is None:
        assert exchange.status == 405, (exchange, "method not described")
        return
    responses = operation["responses"]
    assert str(exchange.status) in responses, (
        exchange, "status not described", sorted(responses))
    response = _resolve(description, responses[str(exchange.status)])
    if exchange.body is not None:
        schema = response["content"]["application/json"]["schema"]
        _validate(description, schema, exchange.body)
    if exchange.sets_cookie is not None:
        assert "Set-Cookie" in response.get("headers", {}), exchange
    sent = exchange.form if exchange.form is not None else exchange.json
    if sent is not None:
        media = ("application/json" if exchange.json is not None
                 else "application/x-www-form-urlencoded")
        content = operation["requestBody"]["content"]
        assert media in content, (exchange, "body type not described")
        schema = _resolve(description, content[media]["schema"])
        assert set(sent) <= set(schema["properties"]), exchange
    cookie_names = {name for where, name in _security_credentials(
        description, operation) if where == "cookie"}
    if cookie_names:
        assert set(exchange.cookies) <= cookie_names, (
            exchange, "cookie not described", cookie_names)
