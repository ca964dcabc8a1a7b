"""Tests of testkit/redis_server.py, the real Redis the distributed-crawl tests run against.

What the launcher itself does, that tests/test_cluster.py relies on when it takes Redis away
from a crawl and gives it back: a password quoted into the URL, a killed server back on its
port, persistence when asked for, and a missing binary a failure, not a skip. (That the server
starts and answers is what every cluster test shows.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# both fixtures come from tests/conftest.py, which imports them from testkit.redis_server
from testkit.redis_server import RedisServer, require_redis_server

# ---- the fixture ----


def test_password_is_enforced(redis_server_factory: Callable[..., RedisServer]) -> None:
    password = "s3cret/with:@ url characters"
    server = redis_server_factory(password=password)
    assert server.client().ping()
    # the URL quotes the password, as REDIS_URL must
    assert redis.Redis.from_url(server.url).ping()
    assert server.url.startswith("redis://:s3cret%2Fwith%3A%40%20url%20characters@127.0.0.1:")
    # AuthenticationError is a ConnectionError to redis-py, retried with backoff by default
    no_retry = Retry(NoBackoff(), 0)
    with pytest.raises(redis.AuthenticationError):
        server.client(password=None, retry=no_retry).ping()  # NOAUTH
    with pytest.raises(redis.AuthenticationError):
        server.client(password="wrong", retry=no_retry).ping()


def test_killed_server_starts_again_on_the_same_port(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    port, url = server.port, server.url
    # redis-py's default client retries a lost connection 3 times, backing off up to 10 s
    client = server.client(retry=Retry(NoBackoff(), 0))
    client.set("key", b"before")
    first_pid = server.pid

    server.kill()
    assert not server.running
    with pytest.raises(redis.ConnectionError):
        client.ping()

    server.start()
    assert (server.port, server.url) == (port, url)
    assert server.pid not in (None, first_pid)
    # the same client object reconnects by itself; without persistence the data is gone
    assert client.ping()
    assert client.get("key") is None


def test_persistent_server_keeps_its_data_across_a_kill(
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory(persist=True)
    client = server.client()
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    client.set("key", b"kept")
    client.sadd("set", b"a", b"b")
    server.kill()
    server.start()
    assert client.get("key") == b"kept"
    assert client.smembers("set") == {b"a", b"b"}


def test_missing_binary_fails_rather_than_skips(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match=r"`make test` installs it"):
        require_redis_server()
