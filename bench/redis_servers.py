"""The Redis servers a benchmark's settings name: the one Redis, or each master of a cluster.
Read for their CPU and the commands they ran (a cluster's load per master shows whether the log
spreads), asked which of them holds a key, and cleared of a run's keys."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import redis

from eventlog.keys import Keys
from eventlog.settings import Settings


@contextlib.contextmanager
def server_clients(settings: Settings) -> Iterator[dict[str, redis.Redis]]:
    """A client of each server, by `host:port`: the one Redis, or each master of the cluster."""
    clients: dict[str, redis.Redis] = {}
    try:
        if settings.redis_cluster_url:
            with redis.RedisCluster.from_url(settings.redis_cluster_url) as cluster:
                for node in cluster.get_primaries():
                    clients[node.name] = redis.Redis(node.host, node.port, **_auth(settings))
        else:
            url = settings.require_redis_url()
            client = redis.Redis.from_url(url)
            pool_kwargs = client.connection_pool.connection_kwargs
            clients[f"{pool_kwargs.get('host')}:{pool_kwargs.get('port')}"] = client
        yield clients
    finally:
        for client in clients.values():
            client.close()


def _auth(settings: Settings) -> dict[str, Any]:
    url = redis.Redis.from_url(settings.require_redis_url())
    try:
        kwargs = url.connection_pool.connection_kwargs
        return {"username": kwargs.get("username"), "password": kwargs.get("password")}
    finally:
        url.close()


def server_load(settings: Settings) -> dict[str, dict[str, float]]:
    """Each server's CPU seconds so far and the commands it has run."""
    with server_clients(settings) as clients:
        load: dict[str, dict[str, float]] = {}
        for name, client in clients.items():
            cpu: Any = client.info("cpu")
            stats: Any = client.info("stats")
            load[name] = {
                "cpu_s": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
                "commands": float(stats["total_commands_processed"]),
            }
        return load


def load_between(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """What each server did between two readings of `server_load`."""
    return {
        name: {
            "cpu_s": round(after[name]["cpu_s"] - before[name]["cpu_s"], 1),
            "commands": round(after[name]["commands"] - before[name]["commands"]),
        }
        for name in after
        if name in before
    }


def url_holding(settings: Settings, key: str) -> str:
    """The URL of the server that holds `key` (on a cluster, its slot's master)."""
    if not settings.redis_cluster_url:
        return settings.require_redis_url()
    with redis.RedisCluster.from_url(settings.redis_cluster_url) as cluster:
        node = cluster.get_node_from_key(key)
    given = urlsplit(settings.redis_cluster_url)
    secret = given.netloc.rpartition("@")[0]
    return f"redis://{secret + '@' if secret else ''}{node.host}:{node.port}"


def delete_keys(settings: Settings, prefix: str) -> None:
    """Remove the keys of a run under `prefix` (on every master of a cluster); a failure is
    reported, never raised over the benchmark's own outcome."""
    pattern = Keys(prefix, hash_tagged=settings.clustered).all()
    try:
        with server_clients(settings) as clients:
            for client in clients.values():
                for key in client.scan_iter(match=pattern, count=1_000):
                    client.unlink(key)
    except redis.RedisError as exc:
        print(f"could not remove the keys {pattern}: {exc}", file=sys.stderr)
