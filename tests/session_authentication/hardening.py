#!/usr/bin/env python3
"""Helpers of the users API hardening tests: error checks, raw HTTP, rows.

Raw HTTP lets a test send bytes ``requests`` refuses to build (non-UTF-8
paths and cookies); the row counts read the test's own database directly,
to prove that bad input stored nothing.
"""
import base64
import socket
from typing import Optional, Tuple

import requests
from sqlalchemy import create_engine, text

JSON_TYPE = "application/json"


def assert_json_error(response: requests.Response, status: int,
                      error: Optional[str] = None) -> None:
    """Check an answer is the given 4xx status with a JSON error body."""
    assert response.status_code == status, (
        response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith(JSON_TYPE)
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str)
    if error is not None:
        assert body["error"] == error, body
    assert "Traceback" not in response.text


def basic(email: str, password: str) -> dict:
    """Return the Authorization header of Basic credentials."""
    raw = "{}:{}".format(email, password).encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def raw_request(port: int, request: bytes) -> Tuple[int, dict, bytes]:
    """Send raw bytes as one HTTP request; return status, headers, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def raw_get(port: int, path: bytes, extra: bytes = b"") -> Tuple[int, dict,
                                                                 bytes]:
    """Send GET of a raw path with extra raw header lines, then close."""
    return raw_request(port, b"GET " + path + b" HTTP/1.1\r\n"
                       b"Host: 127.0.0.1\r\nConnection: close\r\n"
                       + extra + b"\r\n")


def count_rows(database_url: str, table: str) -> int:
    """Return how many rows a table of the test's database holds."""
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT COUNT(*) FROM {}".format(table))).scalar()
    finally:
        engine.dispose()


def user_count(api: object, **kwargs: object) -> int:
    """Return the number of users GET /stats reports."""
    response = api.get("/stats", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["users"]
