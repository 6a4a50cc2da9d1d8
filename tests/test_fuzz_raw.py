#!/usr/bin/env python3
"""A raw malformed-input pass against live servers of every HTTP app.

Bytes the generated cases of test_fuzz_apps.py cannot send: JSON nested
deeply, bodies over the size limit (sized and chunked), wrong content
types, NUL bytes and lone surrogates (as \\ud800 JSON escapes),
percent-encoded garbage in paths and queries, long headers and cookies,
unknown methods. Each answer must be a complete HTTP answer below 500
(or a refused connection for what the HTTP server itself rejects, such
as an over-long request line), and the server must still answer
/openapi.json afterwards.
"""
import socket
from typing import Callable, Iterator, List, Optional

import pytest

from tests.live_apps import KINDS, LiveApp

# Per kind: a route that reads a body, and one that needs a cookie.
BODY_ROUTE = {"auth_service": "/sessions", "stock": "/list_products",
              "seat": "/reserve_seat", "kue": "/job"}
API_BODY_ROUTE = "/api/v1/users"
DEEP = 5000


def raw_requests(app: LiveApp) -> Iterator[bytes]:
    """Yield raw HTTP/1.1 requests, each closing its connection."""
    prefix = app.prefix
    body_route = API_BODY_ROUTE if prefix else BODY_ROUTE[
        app.kind.split(":")[0]]
    login = prefix + "/auth_session/login" if prefix else "/sessions"
    host = b"Host: 127.0.0.1\r\nConnection: close\r\n"

    def request(method: str, path: str, headers: Optional[List[str]] = None,
                body: bytes = b"", chunked: bool = False) -> bytes:
        """Build one request; the body is sized unless chunked."""
        lines = [method.encode("latin-1") + b" " + path.encode("latin-1")
                 + b" HTTP/1.1\r\n", host]
        lines += [(h + "\r\n").encode("latin-1") for h in headers or []]
        if chunked:
            lines.append(b"Transfer-Encoding: chunked\r\n\r\n")
            for start in range(0, len(body), 4096):
                chunk = body[start:start + 4096]
                lines.append(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            lines.append(b"0\r\n\r\n")
        else:
            lines.append(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return b"".join(lines)

    json = ["Content-Type: application/json"]
    form = ["Content-Type: application/x-www-form-urlencoded"]
    deep = b"[" * DEEP + b"]" * DEEP
    deep_object = b'{"email":' * 2000 + b"1" + b"}" * 2000
    huge = b"a=" + b"x" * (2 * 1024 * 1024)
    for target in (body_route, login):
        for headers, body in ((json, deep), (json, deep_object),
                              (json, b'{"email": "a\\u0000b", '
                                     b'"password": "\\ud800"}'),
                              (json, b'{"email": "\\udfff@x.io", '
                                     b'"password": "p\\u0000"}'),
                              (json, b"\xff\xfe\x00garbage"),
                              (json, b"{" * 10), (form, huge),
                              (json, b'{"a": "' + b"x" * 300000 + b'"}'),
                              (["Content-Type: text/csv"], b"a,b\n1,2"),
                              (["Content-Type: multipart/form-data; "
                                "boundary=zz"], b"--zz\r\nbroken"),
                              (["Content-Type: application/json; "
                                "charset=utf-32"], b"{}"),
                              (form, b"email=%ff%fe&password=%00%d8")):
            yield request("POST", target, headers, body)
            yield request("POST", target, headers, body, chunked=True)
            yield request("PUT", target, headers, body)
    for path in ("/%00", "/%ff%fe%fd", "/%2e%2e/%2e%2e/etc/passwd",
                 prefix + "/users/%00%ff", prefix + "/users/%ED%A0%80",
                 prefix + "/docs/%2e%2e%2fapp.py", prefix + "/docs/..",
                 "/list_products/%F0%9F%92%A9", "/reserve_product/1%00",
                 "/reserve_product/99999999999999999999",
                 prefix + "/status?%ff=%fe&%00", "//", "/%2F",
                 "/" + "a/" * 2000, prefix + "/openapi.json?" + "x" * 6000):
        yield request("GET", path)
    cookie = app.session_cookie
    for headers in (["Cookie: {}={}".format(cookie, "x" * 7000)],
                    ["Cookie: " + "; ".join(
                        "c{}=v".format(i) for i in range(500))],
                    ["Cookie: {}=%ff%00\x7f".format(cookie)],
                    ["Authorization: Basic " + "A" * 7000],
                    ["Authorization: Basic %%%"],
                    ["X-Long: " + "y" * 7000], ["Accept: " + "*/*," * 1000],
                    ["Content-Length: -1"], ["Content-Length: abc"]):
        for path in (prefix + "/users/me" if prefix else "/profile",
                     prefix + "/openapi.json"):
            yield request("GET", path, headers)
    for method in ("FOO", "PROPFIND", "TRACE", "CONNECT", "PATCH",
                   "DELETE"):
        yield request(method, prefix + "/openapi.json")


def send(port: int, data: bytes) -> Optional[int]:
    """Send raw bytes; return the answer's status, or None when the
    server closed the connection without an answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            # The status line is all that is checked: no waiting for the
            # server to close (it may still be reading what it refused).
            while b"\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except ConnectionResetError:
            pass
    if not answer:
        return None
    status_line = answer.split(b"\r\n", 1)[0].split()
    assert status_line[0].startswith(b"HTTP/1."), answer[:200]
    return int(status_line[1])


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_input_never_gets_a_5xx(
        start_app: Callable[[str], LiveApp], kind: str) -> None:
    """Every malformed request gets a 4xx (or 2xx), never a 5xx."""
    from tests.test_fuzz_apps import REQUESTS

    app = start_app(kind)
    failures = []
    for data in raw_requests(app):
        status = send(app.server.port, data)
        REQUESTS[kind + " (raw)"] = REQUESTS.get(kind + " (raw)", 0) + 1
        if status is not None and status >= 500:
            failures.append((status, data[:120]))
    assert failures == []
    assert send(app.server.port, b"GET " + app.prefix.encode()
                + b"/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Connection: close\r\n\r\n") == 200
