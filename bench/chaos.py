"""A chaos run: the engine as real processes (`oee api`, two `oee process`, `oee project`) on a
Redis of its own with the append-only file on, under a steady load of orders with transient venue
failures, while one fault after another is injected: a processor, the projector and the API are
killed with SIGKILL and restarted, and Redis is killed and started again on its file. Then: every
accepted order ended exactly once, at most one fill, nothing pending, the read model agrees with
the log and a replay rebuilds what live projection built.

    python -m bench.chaos [--short] [--orders N] [--rate R] [--json]

Exits 1 when a check fails. docs/testing.md ("The chaos run") tells what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.aof_redis import AofRedis, aof_redis
from bench.chaos_checks import (
    judge_log,
    log_timelines,
    pending_entries,
    read_model_disagreements,
    read_tables,
    run_replay,
    unfinished,
)
from bench.chaos_engine import Engine
from bench.chaos_faults import FAULTS, Recovery, inject
from bench.chaos_orders import Placements, place_steadily
from bench.scope import HOST, BenchScope, bench_scope
from eventlog.settings import Settings

# The engine under test: quick venues that fail a fifth of swaps transiently, no execution limit,
# and consumers that take over a dead one's entries within seconds.
ENGINE = {
    "venue_failure_rate": 0.2,
    "venue_quote_latency_ms": 20,
    "venue_swap_latency_min_ms": 50,
    "venue_swap_latency_max_ms": 150,
    "max_orders_per_minute": 0,
    "max_concurrent_orders": 50,
    "retry_base_delay_ms": 20,
    "retry_max_delay_ms": 200,
    "consumer_block_ms": 100,
    "consumer_claim_idle_ms": 2_000,
}
START_WITHIN_S = 60
SETTLE_WITHIN_S = 45
CALM_AT_LEAST_S = 3.0  # normal running before each fault, however late the previous recovery


@dataclass(frozen=True)
class Plan:
    orders: int  # placed in the background over the whole run
    rate: float  # orders per second
    rounds: int  # each fault kind this many times

    @property
    def faults(self) -> list[str]:
        return [kind for _ in range(self.rounds) for kind in FAULTS]


SHORT = Plan(orders=900, rate=20, rounds=1)
FULL = Plan(orders=6_000, rate=20, rounds=2)


def _wait_healthy(port: int) -> None:
    deadline = time.monotonic() + START_WITHIN_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # deliberate: polling a starting server, with a deadline
    raise RuntimeError(f"the API was not healthy within {START_WITHIN_S} s")


async def _faults(
    plan: Plan,
    engine: Engine,
    server: AofRedis,
    client: httpx.AsyncClient,
    p: Placements,
    database_url: str,
) -> list[Recovery]:
    """The faults spread evenly over the placing time, each after a calm spell."""
    spacing = plan.orders / plan.rate / (len(plan.faults) + 1)
    recoveries: list[Recovery] = []
    seen: dict[str, int] = {}
    began = time.monotonic()
    for i, kind in enumerate(plan.faults, start=1):
        due = max(began + i * spacing - time.monotonic(), CALM_AT_LEAST_S)
        await asyncio.sleep(due)  # deliberate: the engine runs normally before the next fault
        recovery = await inject(kind, seen.get(kind, 0), engine, server, client, p, database_url)
        recoveries.append(recovery)
        seen[kind] = seen.get(kind, 0) + 1
    return recoveries


async def _settle(scope: BenchScope, accepted: set[str]) -> tuple[dict[str, list[str]], float]:
    """Wait until every accepted order has ended, nothing is pending and the read model agrees
    (or SETTLE_WITHIN_S passes); the log's timelines then, and the seconds it took."""
    keys = scope.settings.log_keys()
    redis_url, database_url = (
        scope.settings.require_redis_url(),
        scope.settings.require_database_url(),
    )
    began = time.monotonic()
    while True:
        timelines = await asyncio.to_thread(log_timelines, redis_url, keys)
        quiet = not unfinished(timelines, accepted) and not any(
            (await asyncio.to_thread(pending_entries, redis_url, keys)).values()
        )
        if quiet and not await asyncio.to_thread(
            read_model_disagreements, database_url, timelines, accepted
        ):
            break
        if time.monotonic() - began > SETTLE_WITHIN_S:
            break
        await asyncio.sleep(0.2)  # deliberate: polling the engine's last work, with a deadline
    return timelines, round(time.monotonic() - began, 3)


async def _run(plan: Plan, scope: BenchScope, server: AofRedis, logs: Path) -> dict[str, Any]:
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "oee", "migrate"],
        env=scope.env,
        capture_output=True,
        timeout=60,
    )
    if migrated.returncode != 0:
        raise RuntimeError(f"oee migrate failed: {migrated.stderr.decode()[-2000:]}")
    engine = Engine(scope.env, logs)
    engine.start_all()
    try:
        await asyncio.to_thread(_wait_healthy, scope.settings.port)
        placements = Placements()
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        async with httpx.AsyncClient(
            base_url=f"http://{HOST}:{scope.settings.port}", timeout=10, limits=limits
        ) as client:
            stop = asyncio.Event()
            placing = asyncio.create_task(place_steadily(client, placements, plan.rate, stop))
            began = time.monotonic()
            recoveries = await _faults(
                plan, engine, server, client, placements, scope.settings.require_database_url()
            )
            rest = plan.orders / plan.rate - (time.monotonic() - began)
            await asyncio.sleep(max(rest, CALM_AT_LEAST_S))  # deliberate: the load's last part
            stop.set()
            placed = await placing
            placing_s = round(time.monotonic() - began, 3)
        accepted = set(placements.accepted)
        timelines, settle_s = await _settle(scope, accepted)
        died = engine.exited()  # parts that ended by themselves: none should have
    finally:
        stopped = engine.stop_all()
    keys = scope.settings.log_keys()
    verdict = judge_log(timelines, accepted)
    redis_url, database_url = (
        scope.settings.require_redis_url(),
        scope.settings.require_database_url(),
    )
    pending = pending_entries(redis_url, keys)
    disagree = read_model_disagreements(database_url, timelines, accepted)
    live = await read_tables(database_url)
    replay_s, replay_report = run_replay(scope.env)
    replay_equal = await read_tables(database_url) == live
    return {
        "ordersPlaced": placed + len(recoveries),
        "ordersAccepted": len(accepted),
        "retriedPlacements": placements.retried,
        "replayedAnswers": placements.replayed,
        "rejected": len(placements.rejected),
        "gaveUp": len(placements.gave_up),
        "placingSeconds": placing_s,
        "lost": len(verdict.lost),
        "filledTwice": len(verdict.filled_twice),
        "endedTwice": len(verdict.ended_twice),
        "unended": len(verdict.unended),
        "unasked": len(verdict.unasked),
        "outcomes": dict(verdict.outcomes),
        "pending": pending,
        "readModelDisagreements": len(disagree),
        "settleSeconds": settle_s,
        "faults": [
            {
                "kind": r.kind,
                "healthyAfterSeconds": r.healthy_after_s,
                "orderEndedAfterSeconds": r.order_ended_after_s,
                "projectedAfterSeconds": r.projected_after_s,
                "recovered": r.recovered,
            }
            for r in recoveries
        ],
        "partsExitedByThemselves": died,
        "partsStopCodes": stopped,
        "replaySeconds": replay_s,
        "replayEqual": replay_equal,
        "samples": {
            "lost": verdict.lost[:5],
            "unended": verdict.unended[:5],
            "filledTwice": verdict.filled_twice[:5],
            "unasked": verdict.unasked[:5],
            "rejected": placements.rejected[:3],
            "readModel": disagree[:5],
        },
        "replayReport": replay_report[-500:],
        "logTails": {part: engine.log_tail(part, 15) for part in died},
    }


def failures(report: dict[str, Any]) -> list[str]:
    """Every check the report fails, in words (empty: all passed)."""
    problems = [
        f"{report[figure]} {words}"
        for figure, words in (
            ("lost", "accepted orders missing from the log"),
            ("filledTwice", "orders filled twice"),
            ("endedTwice", "orders ended twice"),
            ("unended", "accepted orders not ended"),
            ("unasked", "orders in the log that no placement was answered with"),
            ("rejected", "placements rejected"),
            ("gaveUp", "placements never accepted"),
            ("readModelDisagreements", "orders whose read model disagrees with the log"),
        )
        if report[figure]
    ]
    problems += [f"{n} entries pending in {group}" for group, n in report["pending"].items() if n]
    problems += [f"{f['kind']} not recovered" for f in report["faults"] if not f["recovered"]]
    problems += [
        f"{part} exited with {code}" for part, code in report["partsExitedByThemselves"].items()
    ]
    if not report["replayEqual"]:
        problems.append("the replay did not rebuild what live projection built")
    return problems


def chaos(base: Settings, plan: Plan) -> dict[str, Any]:
    with aof_redis() as server, tempfile.TemporaryDirectory(prefix="oee-chaos-logs-") as logs:
        settings = base.model_copy(update={**ENGINE, "redis_url": server.url})
        with bench_scope(settings) as scope:
            report = asyncio.run(_run(plan, scope, server, Path(logs)))
    report["redisUrl"] = server.url  # stopped by now: nothing answers there any more
    report["failures"] = failures(report)
    return report


def _human(report: dict[str, Any]) -> str:
    lines = [
        f"orders accepted      {report['ordersAccepted']} ({report['retriedPlacements']} after a"
        f" retry with the same key, {report['replayedAnswers']} of them answered as replayed)",
        f"lost                 {report['lost']}",
        f"filled twice         {report['filledTwice']}",
        f"ended twice          {report['endedTwice']}",
        f"outcomes             {report['outcomes']}",
        f"pending              {report['pending']}",
        f"read model vs log    {report['readModelDisagreements']} disagreeing",
        "faults (recovery: /health 200, a new order ended, its row ended):",
    ]
    for fault in report["faults"]:
        healthy, ended = fault["healthyAfterSeconds"], fault["orderEndedAfterSeconds"]
        lines.append(
            f"  {fault['kind']:<16} {healthy} s, {ended} s, {fault['projectedAfterSeconds']} s"
        )
    lines.append(f"replay equal to live {'yes' if report['replayEqual'] else 'no'}")
    lines += [f"FAILED: {problem}" for problem in report["failures"]] or ["all checks passed"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--short", action="store_true", help="the CI run: each fault once, ~1 min")
    parser.add_argument("--orders", type=int, help="orders placed in the background over the run")
    parser.add_argument("--rate", type=float, help="orders placed per second")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    plan = SHORT if args.short else FULL
    plan = Plan(args.orders or plan.orders, args.rate or plan.rate, plan.rounds)
    report = chaos(Settings.from_env(), plan)
    print(json.dumps(report, indent=2) if args.json else _human(report))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
