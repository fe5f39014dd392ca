"""The Redis Cluster client: redis-py's, with two differences.

- When no node of the cluster can be reached, redis-py says so with a RedisClusterException, the
  class it also uses for mistakes such as keys of one call in different slots; here it is a
  ConnectionError, as on one Redis, so every caller retries it or answers 503 like any outage.
- redis-py fails a command at once when a node's connections are all busy, and takes that for a
  node failure (it drops every connection, in use or not). Here a command waits for one of
  IN_FLIGHT turns instead, as on one Redis's pool, so a node's connections never run out.
- A command whose caller is cancelled (a timeout, a stop) was seen to leave redis-py's cluster
  client waiting for ever for a reply, in that caller or the next one. Here each command runs
  in a task of its own that a cancelled caller leaves to finish: the caller is cancelled at
  once, and the command ends (and gives its connection back) as if it had not been.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")


class ClusterUnreachableError(RedisConnectionError):
    """No node of the cluster answered."""


def _unreachable(exc: RedisClusterException) -> bool:
    return isinstance(exc.__cause__, (RedisConnectionError, RedisTimeoutError, OSError))


@contextlib.contextmanager
def outage_as_connection_error() -> Iterator[None]:
    """Within it, a cluster no node of which answers raises ClusterUnreachableError (for the
    clients of libraries that make their own)."""
    try:
        yield
    except RedisClusterException as exc:
        if _unreachable(exc):
            raise ClusterUnreachableError(str(exc)) from exc
        raise


async def _reached(work: Callable[[], Awaitable[T]]) -> T:
    with outage_as_connection_error():
        return await work()


def _drop_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a caller that left is not told, nor is the loop


# Commands (and pipelines) one client has in flight at once; the others wait their turn.
IN_FLIGHT = 256
# How long closing the client waits for commands whose callers were cancelled.
CLOSE_WAIT_S = 5.0


class Cluster(RedisCluster):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_connections", 2 * IN_FLIGHT)  # per node; never reached
        super().__init__(*args, **kwargs)
        self.turns = asyncio.Semaphore(IN_FLIGHT)
        self._ready_lock = asyncio.Lock()
        self._left: set[asyncio.Task[Any]] = set()  # commands whose callers were cancelled

    async def uncancelled(self, work: Coroutine[Any, Any, T]) -> T:
        """`work`'s result; a cancelled caller leaves it running to its end (its outcome
        dropped), and `aclose` waits for it."""
        task = asyncio.ensure_future(work)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            self._left.add(task)
            task.add_done_callback(self._left.discard)
            task.add_done_callback(_drop_outcome)
            raise

    async def aclose(self) -> None:
        """Close every connection, once the commands whose callers left have ended (a few
        seconds at most: a blocking read's own timeout, or a node that does not answer)."""
        if self._left:
            await asyncio.wait(self._left, timeout=CLOSE_WAIT_S)
        await super().aclose()

    async def ready(self) -> None:
        """Learn the cluster's layout before the first command (and again after a failure),
        one caller at a time: commands sent while it is learnt were seen to fail on a closed
        connection, and to be applied twice once retried."""
        if self._initialize:
            async with self._ready_lock:
                if self._initialize:
                    await self.initialize()

    async def initialize(self, *args: Any, **kwargs: Any) -> Cluster:
        await _reached(lambda: super(Cluster, self).initialize(*args, **kwargs))
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        return await self.uncancelled(self._run(*args, **kwargs))

    async def _run(self, *args: Any, **kwargs: Any) -> Any:
        await self.ready()
        async with self.turns:
            return await _reached(lambda: super(Cluster, self).execute_command(*args, **kwargs))

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Pipeline:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        return Pipeline(self, transaction)  # type: ignore[abstract]  # as redis-py's own


class Pipeline(ClusterPipeline):
    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> Any:
        client = self.cluster_client
        assert isinstance(client, Cluster)
        return await client.uncancelled(self._run(client, raise_on_error, allow_redirections))

    async def _run(self, client: Cluster, raise_on_error: bool, allow_redirections: bool) -> Any:
        await client.ready()
        async with client.turns:
            return await _reached(
                lambda: super(Pipeline, self).execute(raise_on_error, allow_redirections)
            )
