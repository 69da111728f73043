"""deploy/docker: the Dockerfile's shape, what the build context lets through, the scripts."""

from __future__ import annotations

import fnmatch
import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from deploy_support import DEPLOY, PROCESSES, REPO

DOCKERFILE = DEPLOY / "docker/Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def test_base_image_is_a_pinned_slim_python():
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "the base image is a build argument with a default"
    assert re.fullmatch(r"python:3\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", match[1])
    stages = [rest for keyword, rest in instructions() if keyword == "FROM"]
    assert len(stages) >= 2, "multi-stage: build tools stay out of the runtime image"
    assert all(stage.startswith("${PYTHON_IMAGE}") for stage in stages)


def test_runtime_stage_runs_as_a_numeric_non_root_user_with_the_entrypoint():
    stage = final_stage()
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert ("ENTRYPOINT", '["feedline-start"]') in stage
    copied = " ".join(rest for keyword, rest in stage if keyword == "COPY")
    assert "/src" not in copied, "sources are not copied into the runtime image"


def test_files_copied_from_the_context_exist():
    for keyword, rest in instructions():
        if keyword != "COPY" or "--from=" in rest:
            continue
        sources = [part for part in rest.split() if not part.startswith("--")][:-1]
        for source in sources:
            assert (REPO / source).exists(), f"COPY source {source} is missing"


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    verdict = False
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [pattern, pattern.removeprefix("**/")]
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        suffixes = ["/".join(parts[i:]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(prefix, candidate)
            for candidate in candidates
            for prefix in (prefixes if candidate == pattern else prefixes + suffixes)
        ):
            verdict = not negate
    return verdict


@pytest.mark.parametrize(
    "path",
    [
        "shared/pyproject.toml",
        "shared/src/feedline_shared/app.py",
        *(f"{folder}/pyproject.toml" for folder in PROCESSES),
        *(f"{folder}/src/{p.package}/settings.py" for folder, p in PROCESSES.items()),
        "user-service/alembic.ini",
        "user-service/migrations/env.py",
        "post-service/migrations/env.py",
        "deploy/docker/start.sh",
        "deploy/docker/migrate.sh",
        "deploy/docker/healthcheck.py",
    ],
)
def test_build_context_keeps_what_the_image_needs(path):
    assert not ignored(path)


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "gateway/tests/conftest.py",
        "feed-service/src/feedline_feed_service.egg-info/PKG-INFO",
        "shared/src/feedline_shared/__pycache__/app.cpython-311.pyc",
        "deploy/k8s/base/kustomization.yaml",
        "var/log/gateway.log",
    ],
)
def test_build_context_leaves_out_what_it_does_not_need(path):
    assert ignored(path)


@pytest.mark.parametrize("script", ["docker/start.sh", "docker/migrate.sh"])
def test_posix_scripts_parse(script):
    path = DEPLOY / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    subprocess.run(["sh", "-n", str(path)], check=True)


def test_postgres_init_script_parses():
    subprocess.run(["bash", "-n", str(DEPLOY / "postgres/initdb/10-feedline.sh")], check=True)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_scripts_pass_shellcheck():
    scripts = [DEPLOY / "docker/start.sh", DEPLOY / "docker/migrate.sh"]
    subprocess.run(["shellcheck", *map(str, scripts)], check=True)


def test_entrypoint_knows_every_process():
    start = (DEPLOY / "docker/start.sh").read_text()
    for folder in PROCESSES:
        assert folder in start, f"start.sh cannot start {folder}"
    assert "python -m fanout_worker" in start
    for flag in ("--factory", "--loop uvloop", "--http httptools", "--no-access-log"):
        assert flag in start


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(url: str) -> int:
    script = str(DEPLOY / "docker/healthcheck.py")
    return subprocess.run([sys.executable, script, url], capture_output=True, timeout=10).returncode


def test_healthcheck_passes_on_2xx_and_fails_on_503_or_no_answer(health_server):
    assert run_healthcheck(f"{health_server}/readyz") == 0
    assert run_healthcheck(f"{health_server}/other") == 1
    # A port nobody listens on: the connection is refused.
    closed = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    port = closed.server_address[1]
    closed.server_close()
    assert run_healthcheck(f"http://127.0.0.1:{port}/readyz") == 1
