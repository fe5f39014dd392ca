"""One consumer of a group over every partition of the log: a consumer loop per partition, all
under the consumer's name, sharing its figures. Its `parallel` bound is split among the loops
(at least one each), so all of them together have no more in flight than it allows, unless the
log has more partitions than that. Each partition keeps the guarantees of `eventlog.consumer` on
its own (at-least-once delivery, own pending entries first, reclaiming, dead letters in the
partition); an order lives in one partition, so its events are delivered in log order as from
one stream (redeliveries aside). The loops call the handler concurrently: what it shares (a
database connection) it must guard."""

from __future__ import annotations

import asyncio
import dataclasses

import redis.asyncio as aioredis

from eventlog.consumer import Consumer, DeadLetterHook, Handler
from eventlog.consumer_config import ConsumerConfig, ConsumerStats
from eventlog.keys import Keys


class PartitionedConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        config: ConsumerConfig,
        handler: Handler,
        *,
        on_dead_letter: DeadLetterHook | None = None,
    ) -> None:
        self.config = config
        self.stats = ConsumerStats()
        self.partitions = [
            Consumer(
                redis,
                keys,
                dataclasses.replace(config, parallel=share),
                handler,
                on_dead_letter=on_dead_letter,
                partition=partition,
                stats=self.stats,
            )
            for partition, share in enumerate(shares(config.parallel, keys.partitions))
        ]

    async def ensure_group(self) -> None:
        for consumer in self.partitions:
            await consumer.ensure_group()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume every partition until `stop` is set; each loop then finishes what it has in
        hand. A loop that ends otherwise (it failed, or was cancelled) stops the others the
        same way, and its failure is raised: the consumer ends as a whole, what it had not
        acked pending for its next start or another consumer."""
        halt = asyncio.Event()
        loops = [asyncio.create_task(consumer.run(halt)) for consumer in self.partitions]
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopped, *loops], return_when=asyncio.FIRST_COMPLETED)
            halt.set()
            await asyncio.wait(loops)
        finally:
            stopped.cancel()
            halt.set()
            if not all(loop.done() for loop in loops):  # this consumer itself was cancelled
                for loop in loops:
                    loop.cancel()
                await asyncio.gather(*loops, return_exceptions=True)
        for loop in loops:
            loop.result()  # a loop's failure (or cancellation) is this consumer's

    async def drain(self) -> int:
        """Consume until nothing is pending, reclaimable or new in any partition; returns the
        entries handled."""
        handled = 0
        while True:
            drained = sum([await consumer.drain() for consumer in self.partitions])
            handled += drained
            if drained == 0:
                return handled


def shares(parallel: int, partitions: int) -> list[int]:
    """`parallel` split among `partitions` as evenly as it goes, at least one each."""
    return [max(1, parallel // partitions + (p < parallel % partitions)) for p in range(partitions)]
