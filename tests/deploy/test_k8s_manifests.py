"""deploy/k8s: valid Kubernetes objects (kubernetes-validate, no cluster needed) that name only what
exists in the code: commands, ports, probes, MLP_ settings, and, for KEDA's ScaledObjects (a CRD
the tool has no schema for), the streams and consumer groups the services really read."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from services.cli import SERVICE_COMMANDS
from shared.contracts.events import Streams
from shared.platform.consumer import ConsumerConfig
from shared.platform.settings import SERVICE_PORTS, SERVICES, Settings
from shared.platform.smtp import SmtpUrl
from tests.ops.support import ROOT, known_env_vars

K8S = ROOT / "deploy/k8s"
# The oldest Kubernetes still in common managed offers, and the newest the tool knows.
VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}
CONSUMERS = ("intake", "matcher", "notifier")


@cache
def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))


@cache
def objects() -> tuple[tuple[str, dict], ...]:
    found = []
    for name in kustomization()["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")):
            if doc:
                found.append((name, doc))
    return tuple(found)


def of_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in objects() if doc["kind"] == kind}


def container(deployment_or_job: dict) -> dict:
    (only,) = deployment_or_job["spec"]["template"]["spec"]["containers"]
    return only


def code_subscriptions() -> dict[str, set[str]]:
    """Streams each service's consumer group reads, from the Subscription(...) lines of its handlers
    (ServiceRuntime.subscribe names the group after the service)."""
    found = {}
    for service in SERVICES:
        handlers = ROOT / "services" / service / "handlers.py"
        names = re.findall(r"Subscription\(\s*Streams\.([A-Z_]+)", handlers.read_text(encoding="utf-8")) \
            if handlers.exists() else []
        if names:
            found[service] = {getattr(Streams, name) for name in names}
    return found


# ---------------------------------------------------------------------------- schema validation
def test_the_kustomization_lists_every_manifest():
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization()["resources"]) == sorted(files)
    assert kustomization()["namespace"] == "monlyceepro"


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_validates_against_the_kubernetes_schemas(version):
    unchecked = set()
    for filename, doc in objects():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unchecked.add(doc["kind"])
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{filename} {doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")
    # Only KEDA's custom resources have no schema in the tool: their fields are checked below.
    assert unchecked == KEDA_KINDS


def test_the_documented_command_passes():
    """What docs/operations.md gives operators and CI: the tool's own command line, strict."""
    files = [str(K8S / name) for name in kustomization()["resources"]]
    result = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", "-k", VERSIONS[0], *files],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout
    docs = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    assert "kubernetes-validate --strict" in docs


def test_a_mistake_is_caught(tmp_path):
    deployment = yaml.safe_load((K8S / "matcher.yaml").read_text(encoding="utf-8").split("\n---\n")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/healthz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[0], strict=True)


# ---------------------------------------------------------------------------- services
def test_each_service_has_a_deployment_a_service_and_a_disruption_budget():
    deployments, services, budgets = of_kind("Deployment"), of_kind("Service"), of_kind("PodDisruptionBudget")
    assert sorted(deployments) == sorted(SERVICES)
    for name in SERVICES:
        pod = deployments[name]["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert deployments[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        port = SERVICE_PORTS[name]
        main = container(deployments[name])
        assert main["image"] == kustomization()["images"][0]["name"]
        assert main["args"] == ["serve", name, "--port", str(port)]
        assert {"name": "http", "containerPort": port} in main["ports"]
        assert services[name]["spec"]["selector"].items() <= labels.items()
        assert services[name]["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert budgets[name]["spec"]["maxUnavailable"] == 1
        strategy = deployments[name]["spec"]["strategy"]["rollingUpdate"]
        assert strategy["maxUnavailable"] == 0


def test_probes_use_the_services_health_endpoints():
    for name, deployment in of_kind("Deployment").items():
        main = container(deployment)
        assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        # intake stays in the Service while Redis is down (it accepts requests into its outbox).
        expected = "/healthz" if name == "intake" else "/readyz"
        assert main["readinessProbe"]["httpGet"] == {"path": expected, "port": "http"}, name


def test_the_endpoints_probed_and_scraped_exist():
    source = (ROOT / "shared/platform/service.py").read_text(encoding="utf-8")
    for path in ("/healthz", "/readyz", "/metrics"):
        assert f'@app.get("{path}"' in source


def test_prometheus_scrapes_each_service_on_its_port():
    for name, deployment in of_kind("Deployment").items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(SERVICE_PORTS[name]),
                               "prometheus.io/path": "/metrics"}


def test_the_notifier_receives_replies_on_its_inbound_smtp_port():
    from services.notifier.config import NotifierSettings

    config = of_kind("ConfigMap")["mlp-config"]["data"]
    port = int(config["MLP_INBOUND_SMTP_PORT"])
    assert port == NotifierSettings.model_fields["inbound_smtp_port"].default
    assert config["MLP_INBOUND_SMTP_HOST"] == "0.0.0.0"
    assert {"name": "smtp", "containerPort": port} in container(of_kind("Deployment")["notifier"])["ports"]
    smtp = of_kind("Service")["notifier-smtp"]
    assert smtp["spec"]["ports"] == [{"name": "smtp", "port": 25, "targetPort": "smtp"}]
    assert smtp["spec"]["selector"] == of_kind("Service")["notifier"]["spec"]["selector"]


def test_pods_run_unprivileged_with_a_writable_var_dir():
    pods = [*of_kind("Deployment").values(), *of_kind("Job").values()]
    for pod in pods:
        spec = pod["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        main = container(pod)
        assert main["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {m["mountPath"] for m in main["volumeMounts"]}
        assert {"/var/lib/monlyceepro", "/tmp"} <= mounts
    dockerfile = (ROOT / "deploy/Dockerfile").read_text(encoding="utf-8")
    assert "MLP_VAR_DIR=/var/lib/monlyceepro" in dockerfile and "--uid 10001" in dockerfile


# ---------------------------------------------------------------------------- settings
def test_every_setting_is_a_known_mlp_variable():
    known = known_env_vars()
    config = of_kind("ConfigMap")["mlp-config"]["data"]
    secret = of_kind("Secret")["mlp-secrets"]["stringData"]
    for key in [*config, *secret]:
        assert key in known, f"{key} n'est pas un champ de Settings ni d'un config.py"
    for name, deployment in of_kind("Deployment").items():
        main = container(deployment)
        for env in main.get("env", []):
            assert env["name"] in known, f"{name}: {env['name']}"
        assert main["envFrom"] == [{"configMapRef": {"name": "mlp-config"}}, {"secretRef": {"name": "mlp-secrets"}}]
    assert {"MLP_SECRET_KEY", "MLP_ADMIN_TOKEN", "MLP_REDIS_URL", "MLP_DATABASE_URL", "MLP_SMTP_URL"} <= set(secret)
    assert config["MLP_CATALOG_URL"] == f"http://catalog:{SERVICE_PORTS['catalog']}"


def test_the_secret_shows_the_managed_forms_and_its_placeholder_cannot_start():
    secret = of_kind("Secret")["mlp-secrets"]["stringData"]
    assert secret["MLP_REDIS_URL"].startswith("rediss://mlp:")
    assert "sslmode=verify-full" in secret["MLP_DATABASE_URL"] and "{service}" in secret["MLP_DATABASE_URL"]
    Settings(redis_url=secret["MLP_REDIS_URL"], database_url=secret["MLP_DATABASE_URL"])
    assert SmtpUrl.parse(secret["MLP_SMTP_URL"]).host == "smtp.example.internal"
    with pytest.raises(ValueError, match="MLP_SECRET_KEY"):
        Settings(env="prod", secret_key=secret["MLP_SECRET_KEY"])


# ---------------------------------------------------------------------------- jobs and ordering
def selected(expression: dict[str, set[str]]) -> set[str]:
    """Objects a `kubectl apply -l 'key in (a,b)'` selects."""
    return {f"{doc['kind']}/{doc['metadata']['name']}" for _, doc in objects()
            if all(doc["metadata"].get("labels", {}).get(k) in values for k, values in expression.items())}


def test_the_migration_job_runs_first_with_only_what_it_needs():
    jobs = of_kind("Job")
    assert container(jobs["migrate"])["args"] == ["migrate"]  # `monlyceepro migrate` (issue 23 item 1)
    assert container(jobs["load-catalog"])["args"] == ["load-catalog"]
    assert "load-catalog" in SERVICE_COMMANDS
    for job in jobs.values():
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        assert container(job)["envFrom"] == container(of_kind("Deployment")["intake"])["envFrom"]
    first = selected({"app.kubernetes.io/component": {"config", "migration"}})
    assert first == {"Namespace/monlyceepro", "ConfigMap/mlp-config", "Secret/mlp-secrets",
                     "Secret/mlp-keda-redis", "Job/migrate"}
    assert selected({"app.kubernetes.io/component": {"catalog-load"}}) == {"Job/load-catalog"}
    docs = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    assert "-l 'app.kubernetes.io/component in (config,migration)'" in docs
    assert "wait --for=condition=complete job/migrate" in docs


# ---------------------------------------------------------------------------- KEDA
def test_each_consumer_scales_on_the_pending_entries_of_the_streams_it_reads():
    subscriptions = code_subscriptions()
    assert sorted(subscriptions) == sorted(CONSUMERS)
    scaled = of_kind("ScaledObject")
    assert sorted(scaled) == sorted(CONSUMERS)
    deployments = of_kind("Deployment")
    batch = ConsumerConfig.__dataclass_fields__["batch_size"].default
    for name, obj in scaled.items():
        spec = obj["spec"]
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        assert set(spec) <= {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
                             "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced",
                             "triggers"}
        assert spec["scaleTargetRef"] == {"name": name}
        assert "replicas" not in deployments[name]["spec"], f"{name}: KEDA's HPA owns the replica count"
        # At least 2: one pod per node drain (PodDisruptionBudget maxUnavailable 1) keeps one consuming.
        assert 2 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= 10
        streams = set()
        for trigger in spec["triggers"]:
            meta = trigger["metadata"]
            assert trigger["type"] == "redis-streams"
            assert set(meta) <= {"stream", "consumerGroup", "pendingEntriesCount", "databaseIndex",
                                 "activationLagCount", "enableTLS", "unsafeSsl"}
            assert meta["consumerGroup"] == name
            assert isinstance(meta["pendingEntriesCount"], str) and 1 <= int(meta["pendingEntriesCount"]) <= batch
            assert meta["databaseIndex"] == "0"  # MLP_REDIS_URL's /0
            assert trigger["authenticationRef"] == {"name": "mlp-redis"}
            streams.add(meta["stream"])
        assert len(streams) == len(spec["triggers"])
        assert streams == subscriptions[name], name
        assert streams <= set(Streams.ALL)
    # The catalog reads no stream: a fixed number of replicas.
    assert "catalog" not in subscriptions and deployments["catalog"]["spec"]["replicas"] >= 2


def test_keda_authenticates_with_the_secret_it_names():
    (auth,) = of_kind("TriggerAuthentication").values()
    assert auth["metadata"]["name"] == "mlp-redis"
    secrets = of_kind("Secret")
    for ref in auth["spec"]["secretTargetRef"]:
        # The redis-streams scaler's authentication parameters.
        assert ref["parameter"] in {"address", "host", "port", "username", "password", "tls", "ca", "cert", "key",
                                    "keyPassword"}
        assert ref["key"] in secrets[ref["name"]]["stringData"]
    assert secrets["mlp-keda-redis"]["stringData"]["tls"] in {"enable", "disable"}


def test_the_bounds_are_documented():
    docs = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    for name, obj in of_kind("ScaledObject").items():
        spec = obj["spec"]
        row = f"| {name} | {spec['minReplicaCount']} | {spec['maxReplicaCount']} |"
        assert row in docs, f"docs/operations.md should have the row {row!r}"


def test_manifests_are_plain_yaml(tmp_path):
    """No anchors nor templating: kustomize and kubectl read them as they are."""
    for path in Path(K8S).glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r":\s*[&*][\w-]+\s*$", text, re.M), path.name
        assert "{{" not in text, path.name
