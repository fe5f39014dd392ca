"""docker-compose.yml and the Dockerfile, read as files (no Docker daemon needed): one service
builds the engine's image and every engine service runs that image, every healthcheck has a start
period, Redis keeps an append-only file; the image holds every package of the wheel and goes
without the embedded servers."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
IMAGE = "order-execution-engine:local"


def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def engine_services() -> dict[str, dict[str, Any]]:
    """The services that run an `oee` command: the ones that need the engine's image."""
    return {
        name: service
        for name, service in services().items()
        if service.get("command", [None])[0] == "oee"
    }


def test_the_engine_services_are_found() -> None:
    assert set(engine_services()) == {"migrate", "api", "processor", "projector"}


def test_exactly_one_service_builds_and_tags_the_engine_image() -> None:
    builders = {name: service for name, service in services().items() if "build" in service}
    assert len(builders) == 1, f"services that build: {sorted(builders)}"
    [builder] = builders.values()
    assert builder["image"] == IMAGE
    assert builder.get("pull_policy") == "build"  # never pulled from a registry


def test_every_engine_service_runs_the_same_image_and_never_pulls_it() -> None:
    for name, service in engine_services().items():
        assert service.get("image") == IMAGE, name
        if "build" not in service:
            assert service.get("pull_policy") == "never", name


def test_the_builder_starts_before_the_services_that_run_its_image() -> None:
    """Compose builds before it creates containers; a service started alone must still bring the
    builder along, so each one that does not build depends on it."""
    [builder] = [name for name, service in services().items() if "build" in service]
    for name, service in engine_services().items():
        if name != builder:
            assert builder in service.get("depends_on", {}), name


@pytest.mark.parametrize("name", ["redis", "postgres", "api", "processor", "projector"])
def test_each_long_running_service_has_a_healthcheck(name: str) -> None:
    assert "healthcheck" in services()[name]


def test_every_healthcheck_has_a_start_period() -> None:
    checked = {name: s["healthcheck"] for name, s in services().items() if "healthcheck" in s}
    assert checked
    for name, healthcheck in checked.items():
        assert healthcheck.get("start_period", "").endswith("s"), name


def test_redis_keeps_an_append_only_file() -> None:
    command = services()["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"


def test_the_image_copies_every_package_of_the_wheel_and_installs_without_extras() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    lines = [line.split() for line in (REPO / "Dockerfile").read_text().splitlines()]
    copied = {words[1] for words in lines if words[:1] == ["COPY"] and len(words) == 3}
    assert set(packages) <= copied
    readme = pyproject["project"]["readme"]
    assert ["COPY", "pyproject.toml", readme, "./"] in lines  # hatchling reads both
    [install] = [words for words in lines if words[:3] == ["RUN", "pip", "install"]]
    assert "." in install  # the project itself, without [embedded] or [dev]
    assert not any("[" in word for word in install)


def test_the_cluster_profile_has_three_masters_with_a_replica_each_formed_once() -> None:
    nodes = {name: s for name, s in services().items() if name.startswith("redis-node-")}
    assert len(nodes) == 6
    for name, node in nodes.items():
        assert node["profiles"] == ["cluster"], name
        command = node["command"]
        assert command[command.index("--cluster-enabled") + 1] == "yes", name
        assert command[command.index("--appendonly") + 1] == "yes", name
        assert command[command.index("--cluster-announce-hostname") + 1] == name
    former = services()["redis-cluster"]
    assert former["profiles"] == ["cluster"]
    assert "--cluster-replicas 1" in former["command"][0]
    assert set(former["depends_on"]) == set(nodes)


def test_the_engine_waits_for_the_cluster_only_when_its_profile_runs() -> None:
    for name, service in engine_services().items():
        if name == "migrate":
            continue
        gate = service["depends_on"]["redis-cluster"]
        assert gate == {"condition": "service_completed_successfully", "required": False}, name
        assert service["environment"]["REDIS_CLUSTER_URL"] == "${REDIS_CLUSTER_URL:-}", name
