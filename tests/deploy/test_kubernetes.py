"""deploy/kubernetes/base: valid for the Kubernetes API, and the promises of
docs/operations.md (probes, non-root read-only containers, migration as a Job, scaling)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.settings import PROJECT_ROOT, Settings
from cds_hooks.auth import load_trust_config
from tests.deploy.kustomize import listed_files, render

BASE = PROJECT_ROOT / "deploy" / "kubernetes" / "base"
# The oldest minor version the manifests promise to work on (docs/operations.md).
KUBERNETES_VERSION = "1.30.0"
SECRET = "opioid-cds-secrets"


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return render(BASE)


def _one(manifests: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind and name in (None, m["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def test_every_manifest_file_is_listed_in_the_kustomization() -> None:
    on_disk = {path for path in BASE.glob("*.yaml") if path.name != "kustomization.yaml"}
    assert set(listed_files(BASE)) == on_disk


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, "1.34.0"])
def test_every_manifest_is_valid_for_the_kubernetes_api(
    manifests: list[dict[str, Any]], version: str
) -> None:
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_the_validation_refuses_a_misspelt_field(manifests: list[dict[str, Any]]) -> None:
    deployment = yaml.safe_load(yaml.safe_dump(_one(manifests, "Deployment")))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")

    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_renderer_matches_kubectl_kustomize(manifests: list[dict[str, Any]]) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the test's renderer is the only one")
    output = subprocess.run(
        [kubectl, "kustomize", str(BASE)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    by_name = {(m["kind"], m["metadata"]["name"]): m for m in yaml.safe_load_all(output)}
    assert by_name == {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def test_replicas_are_probed_secured_and_sized(manifests: list[dict[str, Any]]) -> None:
    pod = _one(manifests, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    # The image's command serves; migrating is the Job's.
    assert "command" not in container and "args" not in container


def test_the_migration_runs_as_a_job_with_the_same_image_and_settings(
    manifests: list[dict[str, Any]],
) -> None:
    job = _one(manifests, "Job")["spec"]["template"]["spec"]
    (migrate,) = job["containers"]
    (service,) = _one(manifests, "Deployment")["spec"]["template"]["spec"]["containers"]

    assert migrate["command"] == ["opioid-cds", "migrate"]
    assert migrate["image"] == service["image"]
    assert migrate["envFrom"] == service["envFrom"]
    assert job["securityContext"]["runAsNonRoot"] is True
    assert migrate["securityContext"]["readOnlyRootFilesystem"] is True


def test_service_autoscaler_and_budget_select_the_replicas(manifests: list[dict[str, Any]]) -> None:
    deployment = _one(manifests, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    port_names = {
        p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    service = _one(manifests, "Service")
    hpa = _one(manifests, "HorizontalPodAutoscaler")
    pdb = _one(manifests, "PodDisruptionBudget")

    assert service["spec"]["selector"].items() <= labels.items()
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


def test_configuration_names_real_settings_and_a_loadable_trust_file(
    manifests: list[dict[str, Any]], tmp_path: Path
) -> None:
    pod = _one(manifests, "Deployment")["spec"]["template"]["spec"]
    config_maps = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "ConfigMap"}
    (container,) = pod["containers"]
    referenced = [
        source["configMapRef"]["name"]
        for source in container["envFrom"]
        if "configMapRef" in source
    ]
    secrets = [
        source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source
    ]
    settings = config_maps[referenced[0]]["data"]

    assert secrets == [SECRET]  # made by the operator (docs/operations.md), never checked in
    assert not [m for m in manifests if m["kind"] == "Secret"]
    misspelt = [
        name
        for name in settings
        if name.startswith("OPIOID_CDS_")
        and name.removeprefix("OPIOID_CDS_").lower() not in Settings.model_fields
    ]
    assert misspelt == []
    # The trust file is where the settings say, and the service can read it.
    volume = next(v for v in pod["volumes"] if "configMap" in v)
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    trust_file = Path(settings["OPIOID_CDS_TRUSTED_CLIENTS"])
    assert trust_file.parent == Path(mount["mountPath"])
    content = config_maps[volume["configMap"]["name"]]["data"][trust_file.name]
    (tmp_path / trust_file.name).write_text(content)
    assert load_trust_config(tmp_path / trust_file.name).clients
