#!/usr/bin/env python3
"""The stock app (task 12) in-process, with Redis being the suite's server.

Seed bodies for every route, strict id parsing, SET NX initialisation
that never resets existing stock, and nothing stored for bad ids.
"""
import importlib
from typing import Iterator

import pytest
import redis
from flask.testing import FlaskClient

PRODUCTS = [
    {"itemId": 1, "itemName": "Suitcase 250", "price": 50,
     "initialAvailableQuantity": 4},
    {"itemId": 2, "itemName": "Suitcase 450", "price": 100,
     "initialAvailableQuantity": 10},
    {"itemId": 3, "itemName": "Suitcase 650", "price": 350,
     "initialAvailableQuantity": 2},
    {"itemId": 4, "itemName": "Suitcase 1050", "price": 550,
     "initialAvailableQuantity": 5},
]
BAD_IDS = ["0", "5", "x", "1.0", "-1", "+1", "1e0", "%201", "1%20",
           "%EF%BC%91", "%FF", "9999999999", "1" * 300, "null", "true"]


@pytest.fixture
def stock_module() -> object:
    """Return the imported ``9-stock`` module."""
    return importlib.import_module("9-stock")


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:
    """Yield a plain client on the suite's Redis to inspect the keys."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def client(stock_module: object, redis_url: str) -> Iterator[FlaskClient]:
    """Yield a test client of an app built for the suite's Redis."""
    app = stock_module.create_app({"REDIS_URL": redis_url,
                                   "TESTING": True})
    with app.test_client() as test_client:
        yield test_client
    app.extensions["stock"].get().client.close()


def test_list_products_shows_catalogue_in_seed_order(
        client: FlaskClient) -> None:
    """GET /list_products lists the four suitcases, keys in seed order."""
    response = client.get("/list_products")
    assert response.status_code == 200
    assert response.get_json() == PRODUCTS
    assert response.get_data(as_text=True).startswith(
        '[{"itemId":1,"itemName":"Suitcase 250","price":50,'
        '"initialAvailableQuantity":4}')


@pytest.mark.parametrize("product", PRODUCTS)
def test_product_detail_has_current_quantity(
        client: FlaskClient, store: redis.Redis, product: dict) -> None:
    """A product shows its initial stock as currentQuantity at first."""
    response = client.get("/list_products/{}".format(product["itemId"]))
    assert response.status_code == 200
    expected = dict(product, currentQuantity=product[
        "initialAvailableQuantity"])
    assert response.get_json() == expected
    assert list(response.get_json()) == list(expected)
    assert store.get("item.{}".format(product["itemId"])) == str(
        product["initialAvailableQuantity"])


def test_reserve_until_out_of_stock(client: FlaskClient,
                                    store: redis.Redis) -> None:
    """Two confirmations for product 3, then 409 Not enough stock."""
    for _ in range(2):
        response = client.get("/reserve_product/3")
        assert response.status_code == 200
        assert response.get_json() == {"status": "Reservation confirmed",
                                       "itemId": 3}
    response = client.get("/reserve_product/3")
    assert response.status_code == 409
    assert response.get_json() == {"status": "Not enough stock available",
                                   "itemId": 3}
    detail = client.get("/list_products/3").get_json()
    assert detail["currentQuantity"] == 0
    assert store.get("item.3") == "0"


def test_existing_stock_is_never_reset(client: FlaskClient,
                                       store: redis.Redis) -> None:
    """Stock already in Redis (another worker, a restart) is kept."""
    store.set("item.2", "1")
    assert client.get("/list_products/2").get_json()[
        "currentQuantity"] == 1
    assert client.get("/reserve_product/2").status_code == 200
    assert client.get("/reserve_product/2").status_code == 409
    assert store.get("item.2") == "0"


def test_garbage_stock_value_is_out_of_stock(client: FlaskClient,
                                             store: redis.Redis) -> None:
    """A non-numeric stock value is treated as none left, not a 500."""
    store.set("item.4", "lots")
    assert client.get("/reserve_product/4").status_code == 409
    assert client.get("/list_products/4").get_json()[
        "currentQuantity"] == 0
    assert store.get("item.4") == "lots"


@pytest.mark.parametrize("route", ["list_products", "reserve_product"])
@pytest.mark.parametrize("item_id", BAD_IDS)
def test_unknown_or_malformed_id_is_404_and_stores_nothing(
        client: FlaskClient, store: redis.Redis, route: str,
        item_id: str) -> None:
    """Any id that names no product: 404 Product not found, no key."""
    response = client.get("/{}/{}".format(route, item_id))
    assert response.status_code == 404
    assert response.get_json() == {"status": "Product not found"}
    assert store.keys("*") == []


def test_trailing_slash_is_accepted(client: FlaskClient) -> None:
    """Routes answer with or without a trailing slash, like Express."""
    assert client.get("/list_products/").status_code == 200
    assert client.get("/list_products/1/").status_code == 200


@pytest.mark.parametrize("method, path, status", [
    ("get", "/nothing", 404), ("post", "/list_products", 405),
    ("delete", "/reserve_product/1", 405)])
def test_other_errors_are_json(client: FlaskClient, method: str,
                               path: str, status: int) -> None:
    """Unknown routes and wrong methods answer JSON, not HTML."""
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.is_json
    assert "error" in response.get_json()


def test_redis_down_is_503_json(stock_module: object) -> None:
    """With no Redis, stock routes answer 503 JSON; the list still works."""
    from tests.support import free_port

    url = "redis://127.0.0.1:{}/0".format(free_port())
    app = stock_module.create_app({"REDIS_URL": url})
    with app.test_client() as test_client:
        for path in ("/list_products/1", "/reserve_product/1"):
            response = test_client.get(path)
            assert response.status_code == 503
            assert response.get_json() == {
                "status": "Service unavailable",
                "error": "Redis unavailable"}
        assert test_client.get("/list_products").status_code == 200


def test_create_app_reads_redis_url_at_creation(
        stock_module: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """REDIS_URL is read when the app is built, with a local default."""
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.1:6380/3")
    assert stock_module.create_app().config[
        "REDIS_URL"] == "redis://10.0.0.1:6380/3"
    monkeypatch.delenv("REDIS_URL")
    assert stock_module.create_app().config[
        "REDIS_URL"] == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("item_id", [1, "1", "4"])
def test_get_item_by_id_accepts_ints_and_digits(
        stock_module: object, item_id: object) -> None:
    """The lookup helper takes an int or a decimal string."""
    assert stock_module.get_item_by_id(item_id).item_id == int(item_id)


@pytest.mark.parametrize("item_id", [True, 1.0, None, "", "٣"])
def test_get_item_by_id_rejects_other_values(
        stock_module: object, item_id: object) -> None:
    """Booleans, floats, None and non-ASCII digits name no product."""
    with pytest.raises(stock_module.ProductNotFound):
        stock_module.get_item_by_id(item_id)
