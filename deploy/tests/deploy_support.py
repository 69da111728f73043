"""What the deployment tests share: paths, the process table, YAML loading, Compose variable
interpolation, Settings lookup and the PromQL metric-name extraction."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = REPO / "docker-compose.yml"
K8S = DEPLOY / "k8s"


@dataclass(frozen=True)
class Process:
    folder: str
    package: str
    port: int


PROCESSES = {
    p.folder: p
    for p in (
        Process("gateway", "gateway", 8000),
        Process("user-service", "user_service", 8001),
        Process("post-service", "post_service", 8002),
        Process("feed-service", "feed_service", 8003),
        Process("fanout-worker", "fanout_worker", 8004),
    )
}
DATABASE_SCHEMAS = {"user-service": "users", "post-service": "posts"}

# Variables read by something other than the service's Settings, and who reads them.
PROCESS_LEVEL_ENV = {
    "FORWARDED_ALLOW_IPS": "uvicorn (trusted proxies for X-Forwarded-For)",
    "PGSSLMODE": "asyncpg (libpq-compatible TLS mode)",
    "PGSSLROOTCERT": "asyncpg (CA bundle for verify-full)",
}

# The metric names Feedline exports (deploy/README.md, "Metrics").
COUNTERS = {
    "feedline_http_requests_total",
    "feedline_outbox_published_total",
    "feedline_fanout_events_total",
    "feedline_feed_requests_total",
    "feedline_feed_timeline_reads_total",
    "feedline_feed_hydration_cache_total",
    "feedline_feed_follow_set_cache_total",
}
GAUGES = {
    "feedline_http_requests_in_flight",
    "feedline_dependency_up",
    "feedline_outbox_backlog",
    "feedline_fanout_queue_depth",
    "feedline_db_pool_connections",
}
HISTOGRAMS = {
    "feedline_http_request_duration_seconds",
    "feedline_fanout_delivery_lag_seconds",
    "feedline_fanout_duration_seconds",
    "feedline_feed_rebuild_duration_seconds",
}
KNOWN_SERIES = (
    COUNTERS
    | GAUGES
    | {f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, environment: Mapping[str, str]) -> str:
    """Compose-style ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and ``$$``."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, default = match["op"], match["default"] or ""
        current = environment.get(name)
        if op == ":-":
            return current if current else default
        if op == "-":
            return default if current is None else current
        if op in (":?", "?") and not current:
            raise KeyError(f"{name} is required: {default}")
        return current or ""

    return _VARIABLE.sub(replace, value)


def interpolate_tree(node: Any, environment: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, environment)
    if isinstance(node, list):
        return [interpolate_tree(item, environment) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, environment) for key, value in node.items()}
    return node


def settings_class(folder: str) -> type:
    """The process's ``Settings`` class; skips the test while its package is not installed."""
    package = PROCESSES[folder].package
    try:
        module = importlib.import_module(f"{package}.settings")
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == package or exc.name.startswith(f"{package}.")):
            pytest.skip(
                f"package {package} is not installed yet "
                f"(pip install -e {folder}); its environment cannot be checked"
            )
        raise
    return module.Settings


def settings_env_names(settings: type) -> set[str]:
    return {name.upper() for name in settings.model_fields}


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'" + r"|`[^`]*`")
_LABEL_LIST = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_IDENTIFIER = re.compile(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels and keywords left out)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = _LABEL_LIST.sub("", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))
