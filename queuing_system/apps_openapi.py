#!/usr/bin/env python3
"""The OpenAPI 3.1 descriptions of the stock and seat apps.

Written by hand; ``9-stock.py`` serves ``stock_description()`` and
``100-seat.py`` serves ``seat_description()`` at ``/openapi.json``, each
with a Swagger UI page at ``/docs`` (``http_common.api_docs``). Checked
against the code by tests/queuing_system/test_openapi.py (every route
and method of each app is described, and every described one exists;
the seed's answers validate against them): a new route must be added
here.
"""
from http_common.api_docs import docs_paths


def _json(description: str, schema: dict) -> dict:
    """Return a response object with a JSON body of the given schema."""
    return {"description": description,
            "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict:
    """Return a reference to a schema of the components."""
    return {"$ref": "#/components/schemas/" + name}


HTTP_ERROR = {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}}}
UNAVAILABLE = _json(
    "Redis (or the queue) cannot be reached: {\"status\": \"Service "
    "unavailable\", \"error\": \"Redis unavailable\"}.", {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": "string"},
                       "error": {"type": "string"}}})
NOT_FOUND = _json("Not found: {\"error\": \"Not Found\"}.", HTTP_ERROR)
ITEM_ID = {"name": "item_id", "in": "path", "required": True,
           "description": "A product id (1 to 9 digits).",
           "schema": {"type": "string"}}
PRODUCT = {
    "type": "object", "additionalProperties": False,
    "required": ["itemId", "itemName", "price", "initialAvailableQuantity"],
    "properties": {
        "itemId": {"type": "integer"}, "itemName": {"type": "string"},
        "price": {"type": "integer"},
        "initialAvailableQuantity": {"type": "integer"}}}
PRODUCT_NOT_FOUND = _json(
    "{\"status\": \"Product not found\"} (an id that names no product), "
    "or {\"error\": \"Not Found\"} (a path that names no route).",
    {"anyOf": [_ref("ProductNotFound"), HTTP_ERROR]})


def _document(title: str, description: str, paths: dict,
              schemas: dict) -> dict:
    """Return an OpenAPI 3.1 document with the documentation routes."""
    paths.update(docs_paths("", NOT_FOUND))
    return {"openapi": "3.1.0",
            "info": {"title": title, "version": "1.0.0",
                     "description": description},
            "paths": paths, "components": {"schemas": schemas}}


def stock_description() -> dict:
    """Return the description of the stock app (9-stock.py)."""
    detail = dict(PRODUCT, required=PRODUCT["required"] + [
        "currentQuantity"], properties=dict(
            PRODUCT["properties"], currentQuantity={"type": "integer"}))
    reservation = {
        "type": "object", "required": ["status", "itemId"],
        "additionalProperties": False,
        "properties": {"status": {"type": "string"},
                       "itemId": {"type": "integer"}}}
    paths = {
        "/list_products": {"get": {
            "operationId": "list_products", "summary": "The catalogue",
            "responses": {"200": _json(
                "Every product with its initial quantity.",
                {"type": "array", "items": _ref("Product")})}}},
        "/list_products/{item_id}": {"get": {
            "operationId": "product_detail",
            "summary": "One product with the stock left",
            "parameters": [ITEM_ID],
            "responses": {
                "200": _json("The product and its currentQuantity.",
                             detail),
                "404": PRODUCT_NOT_FOUND, "503": UNAVAILABLE}}},
        "/reserve_product/{item_id}": {"get": {
            "operationId": "reserve_product",
            "summary": "Reserve one item (HEAD reserves nothing)",
            "parameters": [ITEM_ID],
            "responses": {
                "200": _json("{\"status\": \"Reservation confirmed\", "
                             "\"itemId\": <id>}", reservation),
                "404": PRODUCT_NOT_FOUND,
                "409": _json("{\"status\": \"Not enough stock "
                             "available\", \"itemId\": <id>}",
                             reservation),
                "503": UNAVAILABLE}}},
    }
    return _document(
        "Stock app", "Products and their stock in Redis (seed task 12).",
        paths, {"Product": PRODUCT, "ProductNotFound": {
            "type": "object", "required": ["status"],
            "properties": {"status": {"const": "Product not found"}}}})


def seat_description() -> dict:
    """Return the description of the seat app (100-seat.py)."""
    status = {"type": "object", "required": ["status"],
              "properties": {"status": {"type": "string"}}}
    paths = {
        "/available_seats": {"get": {
            "operationId": "available_seats", "summary": "Seats left",
            "responses": {
                "200": _json("{\"numberOfAvailableSeats\": \"50\"} (a "
                             "string, as in the seed)", {
                                 "type": "object",
                                 "required": ["numberOfAvailableSeats"],
                                 "properties": {
                                     "numberOfAvailableSeats": {
                                         "type": "string",
                                         "pattern": "^-?[0-9]+$"}}}),
                "503": UNAVAILABLE}}},
        "/reserve_seat": {"get": {
            "operationId": "reserve_seat",
            "summary": "Queue a seat reservation (HEAD queues nothing)",
            "responses": {
                "200": _json("{\"status\": \"Reservation in process\"} "
                             "or {\"status\": \"Reservation are "
                             "blocked\"}", status),
                "503": _json("{\"status\": \"Reservation failed\"}, or "
                             "Redis unavailable.", status)}}},
        "/process": {"get": {
            "operationId": "process",
            "summary": "Process the reservation queue in this process",
            "responses": {
                "200": _json("{\"status\": \"Queue processing\"}", status),
                "503": UNAVAILABLE}}},
    }
    return _document(
        "Seat app", "Seat reservations through the job queue "
        "(task 100-seat).", paths, {})
