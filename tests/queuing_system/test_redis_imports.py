#!/usr/bin/env python3
"""The numbered scripts import cleanly and their functions work in-process.

``__import__('1-redis_op')`` must do nothing but define names; then the
seed's functions are called directly against the suite's Redis.
"""
import asyncio
import sys
import threading
import time

import pytest
import redis

import redis_connection

SCRIPTS = ["0-redis_client", "1-redis_op", "2-redis_op_async",
           "4-redis_advanced_op", "5-subscriber", "5-publisher"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_import_does_no_work(name: str, capsys: pytest.CaptureFixture,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing a script prints nothing and connects nowhere."""
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delitem(sys.modules, name, raising=False)
    module = __import__(name)
    assert callable(module.main)
    assert capsys.readouterr().out == ""


def test_redis_url_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """REDIS_URL wins; without it the local default is used."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert redis_connection.redis_url() == "redis://127.0.0.1:6379/0"
    monkeypatch.setenv("REDIS_URL", "redis://example:1/2")
    assert redis_connection.redis_url() == "redis://example:1/2"


@pytest.mark.parametrize("value, expected", [
    ("", 10.0), ("abc", 10.0), ("-1", 10.0), ("nan", 10.0), ("2.5", 2.5)])
def test_connect_timeout_parsing(value: str, expected: float,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad REDIS_CONNECT_TIMEOUT values fall back to ten seconds."""
    monkeypatch.setenv("REDIS_CONNECT_TIMEOUT", value)
    assert redis_connection.connect_timeout() == expected


def test_set_and_display_school_in_process(
        redis_url: str, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """set_new_school prints Reply: OK; display_school_value the value."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    module = __import__("1-redis_op")
    module.client.cache_clear()
    try:
        module.set_new_school("HolbertonLagos", "42")
        module.display_school_value("HolbertonLagos")
    finally:
        module.client().close()
        module.client.cache_clear()
    assert capsys.readouterr().out == "Reply: OK\n42\n"


def test_async_set_and_display_school_in_process(
        redis_url: str, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The async twins behave the same on a fresh event loop."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    module = __import__("2-redis_op_async")

    async def scenario() -> None:
        """Set then display a value, closing the client after."""
        try:
            await module.set_new_school("HolbertonTunis", "7")
            await module.display_school_value("HolbertonTunis")
        finally:
            await module.client().aclose()
            module._Holder.client = None

    asyncio.run(scenario())
    assert capsys.readouterr().out == "Reply: OK\n7\n"


def test_publish_message_waits_then_publishes(
        redis_url: str, capsys: pytest.CaptureFixture) -> None:
    """publish_message announces the message, then publishes it."""
    module = __import__("5-publisher")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    pubsub = client.pubsub()
    pubsub.subscribe(module.CHANNEL)
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    module.publish_message("hello", 20, client).join(10)
    message = pubsub.get_message(timeout=5)
    pubsub.close()
    client.close()
    assert message["data"] == "hello"
    assert capsys.readouterr().out == "About to send hello\n"


def test_subscriber_listen_stops_on_kill_server(
        redis_url: str, capsys: pytest.CaptureFixture) -> None:
    """listen prints messages and returns after KILL_SERVER."""
    module = __import__("5-subscriber")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    listener = threading.Thread(target=module.listen, args=(client,))
    listener.start()
    deadline = time.monotonic() + 20
    while client.pubsub_numsub(module.CHANNEL)[0][1] != 1:
        assert time.monotonic() < deadline, "listen never subscribed"
        time.sleep(0.02)
    for text in ("one", "KILL_SERVER"):
        client.publish(module.CHANNEL, text)
    listener.join(20)
    assert not listener.is_alive()
    assert client.pubsub_numsub(module.CHANNEL)[0][1] == 0
    client.close()
    assert capsys.readouterr().out.splitlines() == ["one", "KILL_SERVER"]


def test_redis_print_renders_like_node(
        capsys: pytest.CaptureFixture) -> None:
    """True prints as OK and integers as themselves."""
    redis_connection.redis_print(True)
    redis_connection.redis_print(1)
    assert capsys.readouterr().out == "Reply: OK\nReply: 1\n"
