"""Every Redis key and consumer-group name the engine uses, in one place.

All keys share the settings' prefix, so deployments (and tests) can share one Redis safely. On a
Redis Cluster the prefix is the names' hash tag (`{oee}:events`), so each script and transaction
keeps its keys in one slot.

A log of several partitions (`eventlog.partitions`) has a stream per partition, and each order's
keys carry its partition's tag (`{oee.3~12}:order:<id>`): the keys one append touches still share
a slot, and the partitions spread over a cluster's masters.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass

from eventlog.partitions import partition_of, partition_tag

EXECUTION_GROUP = "execution"


class PartitionedLogError(RuntimeError):
    def __init__(self, partitions: int) -> None:
        super().__init__(f"the log has {partitions} partitions: name one (Keys.stream)")


PROJECTION_GROUP_PREFIX = "projection:"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "oee"
    hash_tagged: bool = False
    partitions: int = 1

    @property
    def _base(self) -> str:
        return self._tagged(self.prefix)

    def _tagged(self, tag: str) -> str:
        return f"{{{tag}}}" if self.hash_tagged else tag

    def _in(self, partition: int) -> str:
        return self._tagged(partition_tag(self.prefix, partition, self.partitions))

    @property
    def events(self) -> str:
        """The event log's stream, when it has one partition (as every reader of the log but
        `append` and the reads of one order still assumes)."""
        if self.partitions != 1:
            raise PartitionedLogError(self.partitions)
        return self.stream(0)

    def stream(self, partition: int) -> str:
        """The stream of one partition of the log."""
        return f"{self._in(partition)}:events"

    @property
    def streams(self) -> list[str]:
        """Every partition's stream, in partition order."""
        return [self.stream(partition) for partition in range(self.partitions)]

    def partition_of(self, order_id: uuid.UUID | str) -> int:
        """The partition an order lives in."""
        if self.partitions == 1:
            return 0
        order = order_id if isinstance(order_id, uuid.UUID) else uuid.UUID(order_id)
        return partition_of(order, self.partitions)

    def order_stream(self, order_id: uuid.UUID | str) -> str:
        """The stream of the partition an order lives in."""
        return self.stream(self.partition_of(order_id))

    def claim_partition(self, client_id: str, key_digest: str) -> int:
        """The partition of an idempotency claim: an order placed under it must live there, so
        that the claim and the placement are one script on one slot."""
        if self.partitions == 1:
            return 0
        return zlib.crc32(f"{client_id}:{key_digest}".encode()) % self.partitions

    @property
    def dead_letters(self) -> str:
        """Entries no consumer could handle, with the error and where they came from (the one
        partition's)."""
        if self.partitions != 1:
            raise PartitionedLogError(self.partitions)
        return self.dead_letters_in(0)

    def dead_letters_in(self, partition: int) -> str:
        """The dead-letter stream of one partition, in its slot: an entry moves there and is
        acked in one transaction."""
        return f"{self._in(partition)}:dead-letters"

    def entry_errors(self, group: str, partition: int = 0) -> str:
        """A hash of the last error of each entry of a partition `group` failed on, until it is
        handled."""
        return f"{self._in(partition)}:errors:{group}"

    def order_positions(self, order_id: uuid.UUID | str) -> str:
        """The log positions of one order's events; its length is the order's sequence."""
        return f"{self._in(self.partition_of(order_id))}:order:{order_id}"

    @property
    def finished_orders(self) -> str:
        """Orders (and venue events) nothing more is appended to, once archived: a sorted set of
        ids scored by their last position (`eventlog.codec.position_score`). Trimming the log
        past that point removes their position lists too."""
        return f"{self._base}:finished-orders"

    def health(self, group: str, consumer: str) -> str:
        """One consumer's latest figures (handled, in flight, ...), expiring with its heartbeat."""
        return f"{self._base}:health:{group}:{consumer}"

    @property
    def health_probe(self) -> str:
        """Written (with a short TTL) by each `/health`: a Redis that takes no writes is down."""
        return f"{self._base}:health-probe"

    @property
    def heartbeats(self) -> str:
        """Every live consumer: a sorted set of [group, consumer] scored by when its heartbeat
        expires, so finding the live ones is one range read, never a scan of the keyspace."""
        return f"{self._base}:heartbeats"

    @property
    def api_keys(self) -> str:
        """The API keys made with `oee keys`: a hash from each key's SHA-256 (hex) to its record
        (id, client, admin, created, revoked); never the key itself."""
        return f"{self._base}:api-keys"

    def stream_ticket(self, ticket_digest: str) -> str:
        """A WebSocket ticket (`POST /api/stream-tickets`), named by the ticket's SHA-256 (hex):
        the caller it stands for, for a few seconds, taken once."""
        return f"{self._base}:stream-ticket:{ticket_digest}"

    def idempotency(self, client_id: str, key_digest: str) -> str:
        """A client's claim of an Idempotency-Key, named by the key's digest: never the key; in
        its claim partition."""
        partition = self.claim_partition(client_id, key_digest)
        return f"{self._in(partition)}:idempotency:{client_id}:{key_digest}"

    @property
    def intake_limits(self) -> str:
        """The prefix under which the intake limiter (the `limits` library) keeps its windows."""
        return f"{self._base}:intake"

    @property
    def execution_bucket(self) -> str:
        """The token bucket that bounds executions per minute across all processors."""
        return f"{self._base}:execution-bucket"

    def pool(self, venue: str, pair: str) -> str:
        return f"{self._base}:pool:{venue}:{pair}"

    @property
    def venue_state(self) -> str:
        return f"{self._base}:venue-state"

    @property
    def market_moves(self) -> str:
        """What the market's steps moved (arbitrage, drift), recorded with the move itself: a
        list of JSON records waiting to be logged as MarketMoved events."""
        return f"{self._base}:market-moves"

    @property
    def venue_prices(self) -> str:
        """A JSON snapshot of every pool's spot price, rewritten by processors as prices drift."""
        return f"{self._base}:venue-prices"

    def resting_book(self, token_in: str, token_out: str) -> str:
        """Resting limit orders selling `token_in` for `token_out`: a sorted set of
        `<order id>:<sequence>` scored by limit price, so the orders a price reaches are one
        range read."""
        return f"{self._base}:resting:{token_in}:{token_out}"

    def sniper_book(self, token_in: str, token_out: str) -> str:
        """Resting sniper orders buying `token_out` with `token_in`: a sorted set of
        `<order id>:<sequence>` scored by when each was placed, so a launch fills them in that
        order."""
        return f"{self._base}:snipers:{token_in}:{token_out}"

    @property
    def listed_tokens(self) -> str:
        """Tokens listed by pool launches: a hash from symbol to [mint, decimals] (JSON)."""
        return f"{self._base}:listed-tokens"

    @property
    def launched_pools(self) -> str:
        """Every pool a launch opened, as `<venue>|<pair>`: the market's pools beyond its seed."""
        return f"{self._base}:launched-pools"

    @property
    def resting_orders(self) -> str:
        """A hash from each resting order's `<order id>:<sequence>` to what triggering it needs."""
        return f"{self._base}:resting-orders"

    @property
    def resting_expiries(self) -> str:
        """Every resting order's `<order id>:<sequence>`, scored by when it expires (epoch s)."""
        return f"{self._base}:resting-expiries"

    @property
    def resting_pairs(self) -> str:
        """The `<limit|sniper>:<token in>:<token out>` directions that have (or had) resting
        orders."""
        return f"{self._base}:resting-pairs"

    def resting_client(self, client_id: str) -> str:
        """The `<order id>:<sequence>` of every order `client_id` has resting: its count is what
        the per-client limit on resting orders checks."""
        return f"{self._base}:resting-client:{client_id}"

    def submission(self, order_id: uuid.UUID | str) -> str:
        """The first submission result of an order: makes submission idempotent."""
        return f"{self._base}:submission:{order_id}"

    def venue_failures(self, order_id: uuid.UUID | str | None = None) -> str:
        """A failure script: error codes the simulated venues answer to the next swap attempts,
        for one order or (without `order_id`) for every order."""
        scope = f":{order_id}" if order_id is not None else ""
        return f"{self._base}:venue-failures{scope}"

    def execution_stats(self, consumer: str) -> str:
        """One execution processor's counters and gauges (in flight, started, confirmed, ...)."""
        return f"{self._base}:execution-stats:{consumer}"

    def execution_stats_pattern(self) -> str:
        return f"{self._base}:execution-stats:*"

    def all(self) -> str:
        """A pattern matching every key of this log, its partitions' too (for clean-up, never on
        a request path)."""
        if self.hash_tagged:
            return f"{{{self.prefix}[}}.]*"
        return f"{self.prefix}[:.]*"
