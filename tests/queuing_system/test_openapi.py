#!/usr/bin/env python3
"""The stock and seat apps' OpenAPI descriptions against their code.

Each served /openapi.json is valid OpenAPI 3.1, lists every route and
method of its app and nothing else, and the seed's answers fit it.
"""
from types import ModuleType

import pytest
from flask import jsonify

from tests.openapi_support import (Exchange, assert_routes_described,
                                   assert_valid_openapi_31,
                                   validate_exchange)

WHERE = "queuing_system/apps_openapi.py"
PRODUCT = {"itemId": 1, "itemName": "Suitcase 250", "price": 50,
           "initialAvailableQuantity": 4}
STOCK_EXCHANGES = [
    Exchange("GET", "/list_products", 200, [PRODUCT, {
        "itemId": 2, "itemName": "Suitcase 450", "price": 100,
        "initialAvailableQuantity": 10}]),
    Exchange("GET", "/list_products/1", 200,
             dict(PRODUCT, currentQuantity=4)),
    Exchange("GET", "/list_products/12", 404,
             {"status": "Product not found"}),
    Exchange("GET", "/reserve_product/12", 404,
             {"status": "Product not found"}),
    Exchange("GET", "/reserve_product/1", 200,
             {"status": "Reservation confirmed", "itemId": 1}),
    Exchange("GET", "/reserve_product/1", 409,
             {"status": "Not enough stock available", "itemId": 1}),
]
SEAT_EXCHANGES = [
    Exchange("GET", "/available_seats", 200,
             {"numberOfAvailableSeats": "50"}),
    Exchange("GET", "/reserve_seat", 200,
             {"status": "Reservation in process"}),
    Exchange("GET", "/reserve_seat", 200,
             {"status": "Reservation are blocked"}),
    Exchange("GET", "/reserve_seat", 503, {"status": "Reservation failed"}),
    Exchange("GET", "/process", 200, {"status": "Queue processing"}),
]
APPS = [("9-stock", STOCK_EXCHANGES), ("100-seat", SEAT_EXCHANGES)]


def load(name: str) -> ModuleType:
    """Import one of the numbered app modules."""
    return __import__(name)


def served(app: object) -> dict:
    """Return the description the app serves, checking the answer."""
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200
    assert answer.content_type == "application/json"
    return answer.get_json()


@pytest.mark.parametrize("name", ["9-stock", "100-seat"])
def test_description_is_openapi_31(name: str, redis_url: str) -> None:
    """The served description is valid OpenAPI 3.1."""
    app = load(name).create_app({"REDIS_URL": redis_url})
    assert_valid_openapi_31(served(app))


@pytest.mark.parametrize("name", ["9-stock", "100-seat"])
def test_every_route_and_method_is_described(name: str,
                                             redis_url: str) -> None:
    """The description lists exactly the app's routes and methods."""
    app = load(name).create_app({"REDIS_URL": redis_url})
    assert_routes_described(app, served(app), WHERE)


@pytest.mark.parametrize("name", ["9-stock", "100-seat"])
def test_a_route_missing_from_the_description_is_named(
        name: str, redis_url: str) -> None:
    """A route added without its description fails the check, by name."""
    app = load(name).create_app({"REDIS_URL": redis_url})
    app.add_url_rule("/queue_stats", "queue_stats", lambda: jsonify({}))
    with pytest.raises(AssertionError) as failure:
        assert_routes_described(app, served(app), WHERE)
    assert "GET /queue_stats (endpoint 'queue_stats')" in str(failure.value)


@pytest.mark.parametrize("name,exchange", [
    (name, exchange) for name, exchanges in APPS for exchange in exchanges],
    ids=str)
def test_seed_answers_fit(name: str, exchange: Exchange,
                          redis_url: str) -> None:
    """Every answer the seed shows fits the app's description."""
    app = load(name).create_app({"REDIS_URL": redis_url})
    validate_exchange(served(app), exchange)


def test_docs_page_is_served(redis_url: str) -> None:
    """GET /docs answers the Swagger UI page of the stock app."""
    app = load("9-stock").create_app({"REDIS_URL": redis_url})
    client = app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200
    assert "swagger-ui-bundle.js" in page.get_data(True)
