"""docker-compose.yml: valid Compose, buildable, and consistent with each process's Settings."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from deploy_support import (
    COMPOSE_FILE,
    DATABASE_SCHEMAS,
    DEPLOY,
    PROCESSES,
    REPO,
    interpolate_tree,
    load_yaml,
    settings_class,
    settings_env_names,
)

PUBLISHING = {"gateway", "grafana", "prometheus", "rabbitmq"}
# Inputs of deploy/docker/migrate.sh in an image holding several services.
MIGRATE_ENV = {"USER_SERVICE_DATABASE_URL", "POST_SERVICE_DATABASE_URL"}


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    """The file as `docker compose config` sees it with no variables set: every default applied."""
    return interpolate_tree(raw_compose, {})


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def healthcheck_url(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    urls = [part for part in test if isinstance(part, str) and part.startswith("http")]
    assert len(urls) == 1, f"health check should name one URL: {test}"
    return urls[0]


def test_compose_file_validates_against_the_compose_specification(raw_compose):
    schema = json.loads((DEPLOY / "tests/schemas/compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(raw_compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors
    )


def test_every_feedline_process_and_the_infrastructure_is_declared(compose):
    expected = {*PROCESSES, "migrate", "postgres", "redis", "rabbitmq", "prometheus", "grafana"}
    assert expected <= set(compose["services"])


def test_infrastructure_images_are_the_agreed_versions(compose):
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert services["rabbitmq"]["image"] == "rabbitmq:3-management"
    for name, service in services.items():
        image = service["image"]
        assert ":" in image.rsplit("/", 1)[-1], f"{name}: image {image} has no tag"
        assert not image.endswith(":latest"), f"{name}: {image} is not pinned"


def test_every_redis_feedline_starts_has_the_same_list_node_size(compose):
    """Compose, ``make up`` (ensure-infra.sh) and the test and bench servers (scripts/servers.py)
    run the timelines' Redis alike, so the bench measures what is deployed."""
    servers = (REPO / "scripts/servers.py").read_text()
    setting = re.search(r"^REDIS_LIST_NODE_SIZE = (-?\d+)$", servers, re.MULTILINE)
    assert setting is not None, "scripts/servers.py no longer names REDIS_LIST_NODE_SIZE"
    assert '"--list-max-listpack-size", str(REDIS_LIST_NODE_SIZE)' in servers
    flag = ["--list-max-listpack-size", setting.group(1)]
    command = compose["services"]["redis"]["command"]
    assert any(command[i : i + 2] == flag for i in range(len(command))), command
    ensure_infra = (REPO / "scripts/ensure-infra.sh").read_text()
    assert " ".join(flag) in ensure_infra


@pytest.mark.parametrize("name", [*PROCESSES, "migrate"])
def test_build_context_dockerfile_and_service_folders_exist(compose, name):
    build = compose["services"][name]["build"]
    context = (REPO / build["context"]).resolve()
    assert context.is_dir(), f"{name}: build context {context} is missing"
    dockerfile = context / build["dockerfile"]
    assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"
    declared_args = set(re.findall(r"^ARG\s+(\w+)", dockerfile.read_text(), re.MULTILINE))
    assert set(build.get("args", {})) <= declared_args
    folders = build["args"]["SERVICE"].split()
    expected = ["user-service", "post-service"] if name == "migrate" else [name]
    assert folders == expected
    for folder in folders:
        assert (context / folder / "pyproject.toml").is_file(), f"{folder} is not a package"


@pytest.mark.parametrize("name", list(PROCESSES))
def test_every_variable_set_is_a_setting_of_that_process(compose, name):
    settings = settings_class(name)
    unknown = set(environment(compose["services"][name])) - settings_env_names(settings)
    assert not unknown, f"{name} sets variables its Settings does not read: {sorted(unknown)}"


@pytest.mark.parametrize("name", list(PROCESSES))
def test_the_environment_parses_into_settings_with_the_right_name_and_port(
    compose, name, monkeypatch
):
    settings = settings_class(name)
    env = environment(compose["services"][name])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    loaded = settings()
    assert loaded.service_name == name
    assert loaded.port == PROCESSES[name].port
    assert loaded.host == "0.0.0.0"
    if name in DATABASE_SCHEMAS:
        assert loaded.db_schema == DATABASE_SCHEMAS[name]


def test_processes_use_the_databases_roles_and_the_migration_gets_both(compose):
    services = compose["services"]
    roles = {"user-service": "feedline_users", "post-service": "feedline_posts"}
    for name, role in roles.items():
        url = environment(services[name])["DATABASE_URL"]
        assert url.startswith(f"postgresql+asyncpg://{role}:"), url
        assert url.endswith("@postgres:5432/feedline")
    migrate = environment(services["migrate"])
    assert set(migrate) == MIGRATE_ENV
    assert (
        migrate["USER_SERVICE_DATABASE_URL"]
        == environment(services["user-service"])["DATABASE_URL"]
    )
    assert (
        migrate["POST_SERVICE_DATABASE_URL"]
        == environment(services["post-service"])["DATABASE_URL"]
    )
    script = (DEPLOY / "docker/migrate.sh").read_text()
    assert "_DATABASE_URL" in script and "alembic -c" in script


def test_shared_knobs_agree_between_processes(compose):
    services = compose["services"]
    for knob in ("TIMELINE_CAP", "TIMELINE_TTL_DAYS", "CELEBRITY_FOLLOWER_THRESHOLD"):
        values = {environment(services[n])[knob] for n in ("feed-service", "fanout-worker")}
        assert len(values) == 1, f"{knob} differs: {values}"
    threshold = environment(services["user-service"])["CELEBRITY_FOLLOWER_THRESHOLD"]
    assert threshold == environment(services["feed-service"])["CELEBRITY_FOLLOWER_THRESHOLD"]
    for knob in ("INTERNAL_TOKEN", "REDIS_URL", "AMQP_URL", "ENVIRONMENT"):
        values = {environment(services[n]).get(knob) for n in PROCESSES}
        assert len(values) == 1, f"{knob} differs between processes: {values}"
    node_ids = [environment(services[n])["NODE_ID"] for n in PROCESSES]
    assert len(set(node_ids)) == len(node_ids), f"NODE_ID repeats: {node_ids}"


def test_service_urls_point_at_the_right_service_and_port(compose):
    for name in PROCESSES:
        for key, value in environment(compose["services"][name]).items():
            match = re.fullmatch(r"(USER|POST|FEED)_SERVICE_URL", key)
            if match:
                target = f"{match[1].lower()}-service"
                assert value == f"http://{target}:{PROCESSES[target].port}", f"{name}: {key}"


def published_ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of every published port."""
    ports = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.append((entry.get("host_ip", ""), int(entry["published"]), int(entry["target"])))
            continue
        *address, host, container = str(entry).split(":")
        ports.append((":".join(address), int(host), int(container.split("/")[0])))
    return ports


def test_only_gateway_grafana_prometheus_and_rabbitmq_ui_publish_ports(compose):
    publishing = {name for name, s in compose["services"].items() if s.get("ports")}
    assert publishing == PUBLISHING
    assert [p[1:] for p in published_ports(compose["services"]["gateway"])] == [(8000, 8000)]
    assert [p[2] for p in published_ports(compose["services"]["rabbitmq"])] == [15672]
    for name in PUBLISHING:
        for address, _, _ in published_ports(compose["services"][name]):
            assert address == "127.0.0.1", f"{name} publishes beyond loopback by default"


@pytest.mark.parametrize("name", list(PROCESSES))
def test_health_checks_hit_the_process_own_port(compose, name):
    service = compose["services"][name]
    url = healthcheck_url(service)
    port = PROCESSES[name].port
    assert url in (f"http://127.0.0.1:{port}/readyz", f"http://127.0.0.1:{port}/healthz")
    assert environment(service)["PORT"] == str(port)


def test_dependencies_exist_and_their_conditions_can_be_met(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no health check"
            elif condition == "service_completed_successfully":
                assert services[dependency].get("restart", "no") == "no"
    for name in ("user-service", "post-service"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"
    assert set(services["gateway"]["depends_on"]) >= {
        "user-service",
        "post-service",
        "feed-service",
    }


def test_dependency_graph_has_no_cycle(compose):
    services = compose["services"]
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "active", f"cycle: {' -> '.join([*path, name])}"
        state[name] = "active"
        for dependency in services[name].get("depends_on", {}):
            visit(dependency, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def test_mounted_host_paths_exist(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source and source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_postgres_init_reuses_the_bootstrap_script(compose):
    volumes = compose["services"]["postgres"]["volumes"]
    assert "./scripts/bootstrap-db.sh:/opt/feedline/bootstrap-db.sh:ro" in volumes
    init = (DEPLOY / "postgres/initdb/10-feedline.sh").read_text()
    assert "/opt/feedline/bootstrap-db.sh" in init
    assert Path(DEPLOY / "postgres/initdb/10-feedline.sh").stat().st_mode & 0o111


def test_prometheus_and_grafana_mounts_match_their_configuration(compose):
    services = compose["services"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    provider = load_yaml(DEPLOY / "grafana/provisioning/dashboards/feedline.yml")
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{dashboards_path}:ro" in services["grafana"]["volumes"]
