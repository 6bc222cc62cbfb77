"""deploy/compose.yaml is a valid Compose file (the compose-spec JSON schema, vendored in
tests/deploy/compose_spec/) and describes the two shapes the README promises: one
container, or nginx, two servers, two workers, Redis, ClickHouse and PostgreSQL."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
SCHEMA = Path(__file__).parent / "compose_spec" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_file_follows_the_compose_spec(
    compose: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(compose)]  # fmt: skip
    assert errors == []


def test_the_schema_check_does_reject_a_broken_file(
    compose: dict[str, Any], validator: jsonschema.Draft7Validator
) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["serve"]["deploy"]["replicas"] = [2]
    broken["services"]["redis"]["healthcheck"]["intervall"] = "5s"
    assert len(list(validator.iter_errors(broken))) == 2


def _profile(compose: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in compose["services"].items() if name in v.get("profiles", [])}


def test_the_embedded_profile_is_one_container_with_its_data_in_a_volume(
    compose: dict[str, Any],
) -> None:
    embedded = _profile(compose, "embedded")
    assert list(embedded) == ["footfall"]
    one = embedded["footfall"]
    assert one["build"]["dockerfile"] == "Dockerfile" and one.get("command") is None
    assert "footfall-data:/var/lib/footfall" in one["volumes"]
    assert "FOOTFALL_QUEUE_URL" not in one.get("environment", {})


def test_the_scale_out_profile(compose: dict[str, Any]) -> None:
    s = _profile(compose, "scale-out")
    assert set(s) == {"migrate", "serve", "worker", "redis", "clickhouse", "postgres", "nginx"}
    assert s["serve"]["deploy"]["replicas"] == 2 and s["serve"].get("command") is None
    assert s["worker"]["deploy"]["replicas"] == 2 and s["worker"]["command"] == ["worker"]
    assert s["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert s["postgres"]["image"].startswith("postgres:")
    for name in ("serve", "worker", "migrate"):
        env = s[name]["environment"]
        assert env["FOOTFALL_QUEUE_URL"] == "redis://redis:6379/0"
        assert (
            env["FOOTFALL_STORE_URL"].startswith("clickhouse://")
            and "@clickhouse:8123/" in env["FOOTFALL_STORE_URL"]
        )
        assert env["FOOTFALL_DATABASE_URL"].startswith("postgresql+psycopg://")
    # nginx is the one proxy hop in front of the servers; the servers trust exactly it.
    assert s["serve"]["environment"]["FOOTFALL_TRUSTED_PROXIES"] == "1"
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in s["nginx"]["volumes"]
    # Redis acknowledges what it fsync'd (an acknowledged event is never lost).
    assert s["redis"]["command"][-2:] == ["--appendfsync", "always"]
    # Migrations run once, before any server or worker starts.
    for name in ("serve", "worker"):
        assert s[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
