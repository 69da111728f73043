"""deploy/k8s: Kubernetes-schema-valid manifests whose pieces fit together and fit each
process's Settings, in the base and as the example overlay renders."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import (
    DATABASE_SCHEMAS,
    K8S,
    PROCESS_LEVEL_ENV,
    PROCESSES,
    load_yaml,
    load_yaml_documents,
    settings_class,
    settings_env_names,
)

BASE = K8S / "base"
OVERLAY = K8S / "overlays/example"
AUTOSCALED = {"gateway", "feed-service", "fanout-worker"}
NODE_ID_FROM_ORDINAL = {"user-service", "post-service"}
# The oldest Kubernetes the manifests are written for (StatefulSet pod-index labels: 1.28+)
# and the newest whose schemas kubernetes-validate ships.
OLDEST_VERSION = "1.30"
TEST_SECRET = "test-secret-that-is-long-enough-for-production-0123456789"


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


@pytest.mark.parametrize("kustomization", kustomizations(), ids=lambda p: str(p.relative_to(K8S)))
def test_everything_a_kustomization_lists_exists(kustomization):
    spec = load_yaml(kustomization)
    folder = kustomization.parent
    entries = [*spec.get("resources", []), *(p["path"] for p in spec.get("patches", []))]
    assert entries, f"{kustomization} lists nothing"
    for entry in entries:
        target = (folder / entry).resolve()
        assert target.exists(), f"{kustomization}: {entry} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), f"{entry} is no kustomization"


def test_every_manifest_in_the_base_is_listed():
    listed = set(load_yaml(BASE / "kustomization.yaml")["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def base_documents() -> list[dict[str, Any]]:
    documents = []
    for name in load_yaml(BASE / "kustomization.yaml")["resources"]:
        documents.extend(load_yaml_documents(BASE / name))
    return documents


def render(folder: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed; overlay not rendered")
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered_base() -> list[dict[str, Any]]:
    return render(BASE)


@pytest.fixture(scope="module")
def rendered_overlay() -> list[dict[str, Any]]:
    return render(OVERLAY)


@pytest.fixture(scope="module", params=["base", "overlay"])
def rendered(request) -> list[dict[str, Any]]:
    return request.getfixturevalue(f"rendered_{request.param}")


def assert_valid(documents: list[dict[str, Any]]) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate",
        reason="kubernetes-validate (PyPI) bundles the Kubernetes OpenAPI schemas; install it",
    )
    from kubernetes_validate.utils import latest_version

    problems = []
    for version in (OLDEST_VERSION, latest_version()):
        for doc in documents:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = "/".join(map(str, exc.path))
                problems.append(
                    f"{version} {doc['kind']}/{doc['metadata']['name']} {where}: {exc.message}"
                )
    assert not problems, "\n".join(problems)


def test_base_manifests_validate_against_the_kubernetes_schemas():
    assert_valid(base_documents())


def test_rendered_overlay_validates_against_the_kubernetes_schemas(rendered_overlay):
    assert_valid(rendered_overlay)


def by_kind(documents: list[dict[str, Any]], *kinds: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] in kinds}


def workloads(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return by_kind(documents, "Deployment", "StatefulSet")


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def test_every_process_has_a_workload_and_the_id_generators_are_statefulsets(rendered):
    found = workloads(rendered)
    assert set(found) == set(PROCESSES)
    for name, workload in found.items():
        expected = "StatefulSet" if name in NODE_ID_FROM_ORDINAL else "Deployment"
        assert workload["kind"] == expected, name


def test_node_id_comes_from_the_statefulset_ordinal(rendered):
    for name in NODE_ID_FROM_ORDINAL:
        workload = workloads(rendered)[name]
        assert workload["spec"]["podManagementPolicy"] == "Parallel"
        headless = by_kind(rendered, "Service")[workload["spec"]["serviceName"]]
        assert headless["spec"]["clusterIP"] == "None"
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        node_id = next(e for e in container["env"] if e["name"] == "NODE_ID")
        field = node_id["valueFrom"]["fieldRef"]["fieldPath"]
        assert field == "metadata.labels['apps.kubernetes.io/pod-index']"


@pytest.mark.parametrize("name", list(PROCESSES))
def test_probes_ports_and_resources(rendered, name):
    workload = workloads(rendered)[name]
    pod = workload["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert list(ports.values()) == [PROCESSES[name].port]
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert ready["path"] == "/readyz" and live["path"] == "/healthz"
    assert ready["port"] in ports and live["port"] in ports
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(PROCESSES[name].port)
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


def test_pods_run_non_root_read_only_without_capabilities(rendered):
    for name, workload in {**workloads(rendered), **by_kind(rendered, "Job")}.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers(workload):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name


def test_services_select_pods_and_name_their_ports(rendered):
    pods = {
        name: (w["spec"]["template"]["metadata"]["labels"], list(containers(w)))
        for name, w in workloads(rendered).items()
    }
    for name, service in by_kind(rendered, "Service").items():
        selector = service["spec"]["selector"]
        matches = [
            (labels, ctrs) for labels, ctrs in pods.values() if selector.items() <= labels.items()
        ]
        assert len(matches) == 1, f"Service {name} selects {len(matches)} workloads"
        port_names = {p["name"] for c in matches[0][1] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"Service {name}: {port}"
    for name in ("gateway", "user-service", "post-service", "feed-service"):
        (port,) = by_kind(rendered, "Service")[name]["spec"]["ports"]
        assert port["port"] == PROCESSES[name].port


def test_autoscalers_and_disruption_budgets(rendered):
    found = workloads(rendered)
    hpas = by_kind(rendered, "HorizontalPodAutoscaler")
    assert set(hpas) == AUTOSCALED
    for name, hpa in hpas.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert "replicas" not in found[name]["spec"], f"{name}: replicas would fight the HPA"
        assert hpa["spec"]["minReplicas"] >= 2
    pdbs = by_kind(rendered, "PodDisruptionBudget")
    assert set(pdbs) == set(PROCESSES)
    for name, pdb in pdbs.items():
        labels = found[name]["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_migration_job_migrates_both_schemas_with_their_own_images(rendered):
    (job,) = by_kind(rendered, "Job").values()
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    steps = [*pod["initContainers"], *pod["containers"]]
    assert [c["name"] for c in steps] == ["user-service", "post-service"]
    images = {c["name"]: c["image"] for w in workloads(rendered).values() for c in containers(w)}
    for step in steps:
        assert step["args"] == ["migrate"]
        assert step["image"] == images[step["name"]]


def configuration(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, str]]:
    maps = {}
    for name, doc in by_kind(documents, kind).items():
        maps[name] = {**doc.get("data", {}), **doc.get("stringData", {})}
    return maps


def container_environment(
    documents: list[dict[str, Any]], container: dict[str, Any]
) -> dict[str, str]:
    """The variables a container receives, resolved from the rendered ConfigMaps and Secrets."""
    config_maps = configuration(documents, "ConfigMap")
    secrets = configuration(documents, "Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]])
        else:
            env.update(secrets[source["secretRef"]["name"]])
    names = [item["name"] for item in container.get("env", [])]
    assert len(names) == len(set(names)), f"{container['name']}: duplicate env entries"
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]
        if "configMapKeyRef" in ref:
            env[item["name"]] = config_maps[ref["configMapKeyRef"]["name"]][
                ref["configMapKeyRef"]["key"]
            ]
        elif "secretKeyRef" in ref:
            env[item["name"]] = secrets[ref["secretKeyRef"]["name"]][ref["secretKeyRef"]["key"]]
        else:
            env[item["name"]] = "0"  # the pod ordinal
    return env


def process_containers(documents: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, workload in workloads(documents).items():
        for container in containers(workload):
            yield name, container
    for job in by_kind(documents, "Job").values():
        for container in containers(job):
            yield container["name"], container


@pytest.mark.parametrize("name", list(PROCESSES))
def test_every_variable_a_container_gets_is_a_setting_of_its_process(rendered, name):
    allowed = settings_env_names(settings_class(name)) | set(PROCESS_LEVEL_ENV)
    for process, container in process_containers(rendered):
        if process != name:
            continue
        unknown = set(container_environment(rendered, container)) - allowed
        assert not unknown, f"{name}/{container['name']}: not Settings fields: {sorted(unknown)}"


@pytest.mark.parametrize("name", list(PROCESSES))
def test_the_environment_parses_and_refuses_placeholder_secrets(rendered, name, monkeypatch):
    settings = settings_class(name)
    (container,) = workloads(rendered)[name]["spec"]["template"]["spec"]["containers"]
    env = container_environment(rendered, container)
    assert env["ENVIRONMENT"] == "production"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match="INTERNAL_TOKEN"):
        settings()
    for key, value in env.items():
        if value == "CHANGE_ME":
            monkeypatch.setenv(key, TEST_SECRET)
    loaded = settings()
    assert loaded.service_name == name
    assert loaded.port == PROCESSES[name].port
    if name in DATABASE_SCHEMAS:
        assert loaded.db_schema == DATABASE_SCHEMAS[name]


def test_shared_knobs_come_from_one_place(rendered):
    timelines = {}
    for name in ("feed-service", "fanout-worker"):
        (container,) = workloads(rendered)[name]["spec"]["template"]["spec"]["containers"]
        assert {"configMapRef": {"name": "feedline-timelines"}} in container["envFrom"]
        env = container_environment(rendered, container)
        timelines[name] = {k: env[k] for k in ("TIMELINE_CAP", "TIMELINE_TTL_DAYS")}
    assert timelines["feed-service"] == timelines["fanout-worker"]


def test_example_overlay_uses_managed_endpoints_and_pinned_images(rendered_overlay):
    for doc in rendered_overlay:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "feedline", doc["metadata"]["name"]
    for workload in [
        *workloads(rendered_overlay).values(),
        *by_kind(rendered_overlay, "Job").values(),
    ]:
        for container in containers(workload):
            image = container["image"]
            assert image.startswith("registry.example.com/feedline/"), image
            assert image.rsplit(":", 1)[1] not in ("", "latest")
    assert workloads(rendered_overlay)["user-service"]["spec"]["replicas"] == 3
    (container,) = workloads(rendered_overlay)["post-service"]["spec"]["template"]["spec"][
        "containers"
    ]
    env = container_environment(rendered_overlay, container)
    assert env["REDIS_CLUSTER"] == "true"
    assert env["DATABASE_READ_URL"], "reads go to a replica"
    primary_host = env["DATABASE_URL"].split("@")[1].split("/")[0]
    replica_host = env["DATABASE_READ_URL"].split("@")[1].split("/")[0]
    assert primary_host != replica_host
    assert env["PGSSLMODE"] in {"require", "verify-ca", "verify-full"}
