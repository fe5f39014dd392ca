"""The benchmark programs run end to end (the HTTP ones against a real `oee api` process, the
projection suite through `oee bench`), every request they send is answered as expected, and they
leave no schema and no Redis key behind. (Their figures are for the README, not for assertions:
speed is never tested here.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from bench.archive import bench_archive_suite
from bench.bounded_log import bench_bounded_suite
from bench.end_to_end import bench_end_to_end
from bench.eventlog import bench_eventlog
from bench.health import bench_health
from bench.one_sided import bench_one_sided_suite
from bench.partitioned_appends import bench_partitioned_appends
from bench.placement import bench_api
from bench.query import bench_query
from bench.redis_servers import server_clients
from bench.resting import bench_resting_suite
from bench.scope import scope_tag_prefix
from bench.side_by_side import bench_side_by_side
from bench.suites import SUITES
from eventlog.settings import Settings
from oee.cli import main

T = TypeVar("T")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVERY_SUITE = (
    "eventlog",
    "partitions",
    "api",
    "health",
    "http",
    "query",
    "execution",
    "e2e",
    "projection",
    "websocket",
    "resting",
    "archive",
    "bounded",
    "market",
    "startup",
)


def _leftovers(settings: Settings) -> tuple[set[str], set[bytes]]:
    """The schemas and keys of benchmarks run under `settings` (the test's own key prefix), not
    those of anyone else benchmarking on the same servers."""
    tag = scope_tag_prefix(settings)
    with psycopg.connect(settings.require_database_url()) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", [tag]
        ).fetchall()
    pattern = f"{{{tag}*" if settings.clustered else f"{tag}*"
    keys: set[bytes] = set()
    with server_clients(settings) as clients:
        for client in clients.values():
            keys |= set(client.scan_iter(match=pattern, count=1_000))
    return {row[0] for row in rows}, keys


def _bench_env(settings: Settings) -> dict[str, str]:
    """The environment of a benchmark program run as a subprocess on the test's servers, under
    the test's key prefix (so the leftover check sees its schemas and keys)."""
    return {
        **os.environ,
        "REDIS_URL": settings.require_redis_url(),
        "DATABASE_URL": settings.require_database_url(),
        "OEE_KEY_PREFIX": settings.key_prefix,
    }


def _run_leaving_nothing(settings: Settings, bench: Callable[[], T]) -> T:
    assert _leftovers(settings) == (set(), set())
    figures = bench()
    assert _leftovers(settings) == (set(), set())
    return figures


def test_the_query_benchmark_gets_every_order_it_asks_for(settings: Settings) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_query(settings, 40, seconds=0.3))
    assert figures["orders"] == 40
    assert figures["get_non_200"] == 0
    assert figures["get_order_per_s_saturation_32_conns"] > 0


def test_the_resting_benchmark_triggers_each_order_the_market_passes_once(
    settings: Settings,
) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_resting_suite(settings, 300, 4, 50))
    assert figures["resting_orders"] == 300
    assert figures["orders_triggered"] > 100  # four moves pass most of the book
    assert figures["orders_confirmed"] + figures["still_resting"] == 300  # none lost, none twice
    assert figures["triggers"] >= figures["orders_triggered"]
    assert figures["trigger_latency_p99_ms"] >= figures["trigger_latency_p50_ms"] >= 0
    assert figures["sniper_orders"] == 50  # every one submitted, else the suite raises
    assert figures["launch_to_submitted_p99_ms"] >= figures["launch_to_submitted_p50_ms"] >= 0


def test_the_archive_benchmark_archives_every_event_it_writes(settings: Settings) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_archive_suite(settings, 400))
    assert figures["archived"] == figures["events"] > 300
    assert figures["archive_bytes_per_event"] > 0
    for replayed in (figures["replay_from_log"], figures["replay_from_archive_and_log"]):
        assert replayed["equalsLive"] is True
        assert replayed["events"] == figures["events"]
    assert figures["redis_stream_bytes_per_event"] > 0


def test_the_bounded_log_benchmark_places_at_its_rate_and_samples_the_memory(
    settings: Settings,
) -> None:
    short = settings.model_copy(update={"log_retention_seconds": 1})
    figures = _run_leaving_nothing(settings, lambda: bench_bounded_suite(short, 40, 3))
    assert figures["retentionSeconds"] == 1
    assert 100 <= figures["orders"] <= 120  # 40/s for 3 s
    first = figures["samples"][0]
    assert first["keysBytes"] > 0
    assert {"seconds", "orders", "streamLength", "keys", "usedMemory"} <= set(first)
    assert figures["archiveBytesPerOrder"] is None or figures["archiveBytesPerOrder"] > 0


def test_the_health_benchmark_gets_every_probe_answered_fresh_and_under_a_backlog(
    settings: Settings,
) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_health(settings, 0.5, 4_000))
    for run in ("ceiling_fixed_get", "fresh", "with_backlog"):
        assert figures[run]["not_200"] == 0
        assert figures[run]["per_s"] > 0
        assert figures[run]["p99_ms"] >= figures[run]["p50_ms"] > 0
    assert figures["backlog_orders"] == 4_000
    assert figures["fresh"]["of_ceiling"] > 0


def test_the_side_by_side_benchmark_gets_every_request_answered_by_its_own_engine(
    settings: Settings,
) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_side_by_side(settings, None, 20, 0.5))
    assert figures["url"].startswith("http://127.0.0.1:")
    for load in ("get_order", "health", "post_order"):
        assert figures[load]["other_statuses"] == {}, load
        assert figures[load]["per_s"] > 0
    for ceiling in ("ceiling_fixed_get", "ceiling_validated_post_xadd"):
        assert figures[ceiling]["other_statuses"] == {}, ceiling
        assert figures[ceiling]["per_s"] > 0
    for load in ("get_order", "health", "post_order"):
        assert figures[load]["of_ceiling"] > 0
        assert figures[load]["timeline"][0]["per_s"] > 0


@pytest.mark.on_cluster_too
def test_the_eventlog_benchmark_measures_redis_xadd_ceiling_beside_the_appends(
    settings: Settings,
) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_eventlog(settings, 2_000))
    for figure in ("appends_per_s_single", "appends_per_s_pipelined", "xadd_ceiling_per_s"):
        assert figures[figure] > 0, figure
    assert figures["xadd_ceiling_entry_bytes"] > 300  # an OrderPlaced entry's fields
    assert figures["appends_pipelined_of_ceiling"] > 0
    assert figures["consumed_per_s_2_consumers"] > 0


@pytest.mark.on_cluster_too
def test_the_partitions_benchmark_appends_into_each_count_and_reads_each_server(
    settings: Settings, redis_kind: str
) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_partitioned_appends(settings, 400))
    for partitions in (1, 2, 4, 8):
        run = figures[f"p{partitions}"]
        assert run["appends_per_s"] > 0
        # Each server's load: the one Redis, or each of the test cluster's three masters (which
        # partitions land where is tests/integration/test_partitioned_log.py's to show).
        assert len(run["redis_servers"]) == (3 if redis_kind == "cluster" else 1)
        assert sum(load["commands"] for load in run["redis_servers"].values()) > 0


def test_the_one_sided_benchmark_ends_every_order_it_places(settings: Settings) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_one_sided_suite(settings, 200))
    for run in ("with_arbitrage", "without_arbitrage"):
        assert sum(figures[run]["outcomes"].values()) == 200
        assert 0 < figures[run]["raydium_sol_price_low_vs_start"] <= 1
    assert figures["without_arbitrage"]["arbitrage_share"] == 0


@pytest.mark.on_cluster_too
def test_the_end_to_end_benchmark_sees_every_order_it_places_confirmed(
    settings: Settings, redis_kind: str
) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_end_to_end(settings, 100, 2))
    assert figures["accepted"] == 200
    assert figures["refused"] == {}
    assert figures["confirmed"] == 200  # each seen confirmed on the global stream
    assert figures["accept_to_confirmed_ws"]["count"] == 200
    assert figures["accept_to_visible_get"]["count"] == 20  # every tenth read until confirmed
    for latency in ("accept_to_confirmed_ws", "accept_to_visible_get"):
        assert 0 < figures[latency]["p50_ms"] <= figures[latency]["p99_ms"]
    assert sum(second["per_s"] for second in figures["confirmed_timeline"]) > 0
    parts = ("api", "processor", "projector")
    assert set(figures["cpu_seconds"]) == {*parts, "redis", "postgres"}
    assert all(figures["peak_rss_mb"][part] > 0 for part in parts)
    # Each Redis server's load: the one Redis, or each of the test cluster's three masters.
    servers = figures["redis_servers"]
    assert len(servers) == (3 if redis_kind == "cluster" else 1)
    assert sum(load["commands"] for load in servers.values()) > 200


def test_the_placement_benchmark_has_every_order_accepted(settings: Settings) -> None:
    figures = _run_leaving_nothing(settings, lambda: bench_api(settings, seconds=0.3))
    assert figures["accept_non_202"] == 0
    assert figures["accept_per_s_saturation_64_conns"] > 0


def test_oee_bench_help_lists_every_suite_and_what_it_measures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert tuple(SUITES) == EVERY_SUITE
    suite_lines = text.split("\nsuites:\n", 1)[1].split("\n\n", 1)[0].splitlines()  # to settings
    named = [line.split()[0] for line in suite_lines if not line.startswith(" " * 3)]
    assert named == [*EVERY_SUITE, "all"]
    for option in ("--events", "--projectors", "--orders", "--processors", "--runs", "--seconds"):
        assert option in text


def test_oee_bench_runs_the_projection_and_replay_suite(settings: Settings) -> None:
    env = {
        **_bench_env(settings),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "oee", "bench", "projection", "--events", "500"]
    command += ["--projectors", "1,2"]
    done = _run_leaving_nothing(
        settings, lambda: subprocess.run(command, env=env, capture_output=True, timeout=120)
    )
    assert done.returncode == 0, done.stderr.decode()
    figures = json.loads(done.stdout)["projection"]
    one, two = figures["projection_1_process"], figures["projection_2_processes"]
    replay = figures["replay"]
    assert one["events"] == two["events"] == replay["events"] > 0
    assert sum(two["perProcess"]) == two["events"]
    assert replay["equalsLive"] is True
    assert figures["copyCeiling"]["rows"] == 500
    assert figures["copyCeiling"]["rowsPerSecond"] > 0
    assert figures["copyCeiling"]["rowBytes"] > 0
    for run in (one, two, replay):
        assert run["ofCopyCeiling"] > 0


def test_oee_bench_plot_draws_the_http_loads_to_a_png_beside_the_json(
    settings: Settings, tmp_path: Path
) -> None:
    plot = tmp_path / "health.png"
    command = [sys.executable, "-m", "oee", "bench", "health", "--seconds", "0.5"]
    command += ["--backlog", "200", "--plot", str(plot)]
    done = _run_leaving_nothing(
        settings,
        lambda: subprocess.run(command, env=_bench_env(settings), capture_output=True, timeout=120),
    )
    assert done.returncode == 0, done.stderr.decode()
    figures = json.loads(done.stdout)["health"]
    for load in ("ceiling_fixed_get", "fresh", "with_backlog"):
        first = figures[load]["timeline"][0]
        assert first["second"] == 1
        assert first["per_s"] > 0
        assert first["p99_ms"] >= first["p50_ms"] > 0
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


def test_oee_bench_plot_refuses_a_suite_without_http_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "startup", "--plot", str(tmp_path / "startup.png")]) == 2
    assert "--plot draws HTTP loads" in capsys.readouterr().err
    assert not (tmp_path / "startup.png").exists()


def test_the_order_path_names_the_modules_of_every_part_one_order_runs_through(
    settings: Settings,
) -> None:
    env = _bench_env(settings)
    done = _run_leaving_nothing(
        settings,
        lambda: subprocess.run(
            [sys.executable, "-m", "bench.order_path"], env=env, capture_output=True, timeout=120
        ),
    )
    assert done.returncode == 0, done.stderr.decode()
    found = json.loads(done.stdout)
    assert found["status"] == "confirmed"
    for part in ("api/orders_commands.py", "processors/order_lifecycle.py", "eventlog/append.py"):
        assert part in found["modules"]
    assert "projections/orders_projection.py" in found["modules"]
    assert found["productModules"] == len(found["modules"])


def test_the_flood_benchmark_sees_every_flooding_socket_answered_408(settings: Settings) -> None:
    env = _bench_env(settings)
    done = _run_leaving_nothing(
        settings,
        lambda: subprocess.run(
            [sys.executable, "-m", "bench.floods", "--sockets", "50", "--header-timeout", "5"],
            env=env,
            capture_output=True,
            timeout=120,
        ),
    )
    assert done.returncode == 0, done.stderr.decode()
    figures = json.loads(done.stdout)
    assert figures["answered_408"] == figures["sockets"] == 50
    assert figures["flood_cleared_s"] >= 5


def test_the_websocket_flood_benchmark_refuses_past_the_bound_and_completes_every_catch_up(
    settings: Settings,
) -> None:
    env = _bench_env(settings)
    command = [sys.executable, "-m", "bench.websocket_floods", "--sockets", "60"]
    command += ["--catch-up", "10", "--orders", "10", "--json"]
    done = _run_leaving_nothing(
        settings, lambda: subprocess.run(command, env=env, capture_output=True, timeout=180)
    )
    assert done.returncode == 0, done.stderr.decode()
    figures = json.loads(done.stdout)
    default_bound = Settings.model_fields["ws_max_streams_per_client"].default
    assert figures["streamFlood"]["outcomes"] == {
        "connected": default_bound,
        "TOO_MANY_STREAMS": 60 - default_bound,
    }
    assert figures["catchUpFlood"]["complete"] == 10
    assert figures["streamFlood"]["health"]["failures"] == 0


def test_with_keys_on_the_http_benchmarks_are_served_with_their_keys(settings: Settings) -> None:
    placed = _run_leaving_nothing(settings, lambda: bench_api(settings, seconds=0.3, keys=True))
    assert placed["keys"] is True
    assert placed["accept_non_202"] == 0
    assert placed["accept_per_s_saturation_64_conns"] > 0
    read = _run_leaving_nothing(settings, lambda: bench_query(settings, 40, seconds=0.3, keys=True))
    assert read["get_non_200"] == 0
