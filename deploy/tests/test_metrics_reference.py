"""The metrics reference (deploy/README.md) and the names alerts and panels may use are what the
five processes really register."""

from __future__ import annotations

import importlib
import re

from deploy_support import DEPLOY, KNOWN_SERIES, PROCESSES
from prometheus_client import REGISTRY

_NAME = re.compile(r"`(feedline_[a-z_]+)")


def registered_series() -> dict[str, str]:
    """Every ``feedline_*`` family the apps register at import, as exposed (counters with
    ``_total``), mapped to its type."""
    for process in PROCESSES.values():
        importlib.import_module(f"{process.package}.app")
    found: dict[str, str] = {}
    for family in REGISTRY.collect():
        if family.name.startswith("feedline_"):
            name = f"{family.name}_total" if family.type == "counter" else family.name
            found[name] = family.type
    return found


def documented_series() -> set[str]:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return set(_NAME.findall(section))


def test_the_reference_names_every_registered_metric_and_nothing_else() -> None:
    assert documented_series() == set(registered_series())


def test_names_the_alerts_and_dashboard_may_use_are_registered() -> None:
    exposed: set[str] = set()
    for name, kind in registered_series().items():
        exposed.add(name)
        if kind == "histogram":
            exposed |= {f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count")}
    assert KNOWN_SERIES <= exposed
