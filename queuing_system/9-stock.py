#!/usr/bin/env python3
"""Products and their stock in Redis, over HTTP (seed task 12).

Routes: ``GET /list_products``, ``GET /list_products/<id>`` and
``GET /reserve_product/<id>``. Stock left lives in the Redis keys
``item.<id>``; each key is created with SET NX from the product's
initial quantity the first time it is used, so restarts and extra
workers never reset it, and a reservation is one Lua script (check and
decrement run atomically in Redis), so concurrent requests never sell
more than exists.

Run ``python3 9-stock.py`` (``HOST``/``PORT``, default 0.0.0.0:1245), or
in production ``granian --interface wsgi --workers 2 --blocking-threads 2
9-stock:app`` from this folder (docs/queuing-system.md).
"""
import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any, Optional

import redis
from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from apps_openapi import stock_description
from http_common.api_docs import register_api_docs
from json_errors import register_json_errors
from redis_connection import make_client, redis_url

DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 1245
ITEM_ID = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class Product:
    """One product of the catalogue with its initial stock."""

    item_id: int
    name: str
    price: int
    initial_quantity: int

    def to_json(self) -> dict:
        """Return the product as the API shows it, keys in seed order."""
        return {
            "itemId": self.item_id,
            "itemName": self.name,
            "price": self.price,
            "initialAvailableQuantity": self.initial_quantity,
        }


LIST_PRODUCTS = (
    Product(1, "Suitcase 250", 50, 4),
    Product(2, "Suitcase 450", 100, 10),
    Product(3, "Suitcase 650", 350, 2),
    Product(4, "Suitcase 1050", 550, 5),
)


class ProductNotFound(LookupError):
    """Raised when an id names no product of the catalogue."""


def get_item_by_id(item_id: Any) -> Product:
    """Return the product for an id (int or decimal text) or raise.

    Anything but 1 to 9 ASCII digits naming a product raises
    ``ProductNotFound``.
    """
    if isinstance(item_id, str) and ITEM_ID.fullmatch(item_id):
        item_id = int(item_id)
    if type(item_id) is not int:
        raise ProductNotFound(item_id)
    for product in LIST_PRODUCTS:
        if product.item_id == item_id:
            return product
    raise ProductNotFound(item_id)


# KEYS[1] = item.<id>, ARGV[1] = initial quantity. Both scripts create
# the key only when it is missing (SET NX), then read or decrement it.
CURRENT_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return tonumber(redis.call('GET', KEYS[1])) or 0
"""
RESERVE_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local left = tonumber(redis.call('GET', KEYS[1]))
if not left or left < 1 then
  return -1
end
return redis.call('DECR', KEYS[1])
"""


class StockStore:
    """Stock levels in Redis under ``item.<id>`` keys, changed atomically."""

    KEY = "item.{}"

    def __init__(self, client: redis.Redis) -> None:
        """Keep the client and register the Lua scripts on it."""
        self.client = client
        self._current = client.register_script(CURRENT_SCRIPT)
        self._reserve = client.register_script(RESERVE_SCRIPT)

    def key(self, product: Product) -> str:
        """Return the Redis key that holds a product's stock left."""
        return self.KEY.format(product.item_id)

    def current_quantity(self, product: Product) -> int:
        """Return the stock left, initialising the key when missing."""
        return int(self._current(keys=[self.key(product)],
                                 args=[product.initial_quantity]))

    def reserve(self, product: Product) -> bool:
        """Take one item out of stock; False when none is left."""
        left = self._reserve(keys=[self.key(product)],
                             args=[product.initial_quantity])
        return int(left) >= 0


class _LazyStore:
    """Builds a Redis client and store per thread, on its first request.

    Each server thread keeps one connection of its own
    (``single_connection_client``): no pool to check a connection out
    of and back into on every request, about a third of redis-py's CPU
    per reservation (bench/results/redis.md). Threads are few (the
    server's blocking threads) and so are the connections.
    """

    def __init__(self, url: str) -> None:
        """Remember the Redis URL; connect nothing yet."""
        self.url = url
        self.local = threading.local()

    def get(self) -> StockStore:
        """Return this thread's store, building it on the first call."""
        store = getattr(self.local, "store", None)
        if store is None:
            store = self.local.store = StockStore(make_client(
                self.url, single_connection_client=True))
        return store


def stock() -> StockStore:
    """Return the stock store of the current app."""
    return current_app.extensions["stock"].get()


def not_found() -> ResponseReturnValue:
    """Answer the seed's product-not-found body with status 404."""
    return jsonify({"status": "Product not found"}), 404


def list_products() -> ResponseReturnValue:
    """List every product with its initial quantity."""
    return jsonify([product.to_json() for product in LIST_PRODUCTS])


def product_detail(item_id: str) -> ResponseReturnValue:
    """Show one product with its current quantity, or 404."""
    try:
        product = get_item_by_id(item_id)
    except ProductNotFound:
        return not_found()
    body = product.to_json()
    body["currentQuantity"] = stock().current_quantity(product)
    return jsonify(body)


def reserve_product(item_id: str) -> ResponseReturnValue:
    """Reserve one item: 200 confirmed, 409 out of stock, 404 unknown.

    HEAD reserves nothing: it answers what GET would answer now.
    """
    try:
        product = get_item_by_id(item_id)
    except ProductNotFound:
        return not_found()
    if request.method == "HEAD":
        reserved = stock().current_quantity(product) > 0
    else:
        reserved = stock().reserve(product)
    if not reserved:
        return jsonify({"status": "Not enough stock available",
                        "itemId": product.item_id}), 409
    return jsonify({"status": "Reservation confirmed",
                    "itemId": product.item_id})


def create_app(config: Optional[dict] = None) -> Flask:
    """Build the stock app: config from the environment, then overrides.

    Keys: ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). The Redis
    client is created by the first request that needs it.
    """
    # No static files: no /static/<filename> route.
    app = Flask(__name__, static_folder=None)
    # An empty path segment (//, %2F) is a JSON 404, not Werkzeug's
    # redirect with an HTML body.
    app.url_map.merge_slashes = False
    app.config["REDIS_URL"] = redis_url()
    app.config.update(config or {})
    app.json.sort_keys = False
    app.extensions["stock"] = _LazyStore(app.config["REDIS_URL"])
    app.add_url_rule("/list_products", view_func=list_products,
                     strict_slashes=False)
    app.add_url_rule("/list_products/<item_id>", view_func=product_detail,
                     strict_slashes=False)
    app.add_url_rule("/reserve_product/<item_id>",
                     view_func=reserve_product, strict_slashes=False)
    register_api_docs(app, "", stock_description())
    register_json_errors(app)
    return app


def listen_address() -> tuple:
    """Return (host, port) from ``HOST`` and ``PORT``, or exit with a line."""
    host = os.environ.get("HOST") or DEFAULT_HOST
    text = os.environ.get("PORT") or str(DEFAULT_PORT)
    if not text.isdecimal() or not 0 < int(text) < 65536:
        sys.exit("9-stock: PORT must be a number from 1 to 65535, got {!r}"
                 .format(text))
    return host, int(text)


app = create_app()

if __name__ == "__main__":
    HOST, PORT = listen_address()
    app.run(host=HOST, port=PORT)
