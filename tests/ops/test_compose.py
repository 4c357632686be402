"""docker-compose.yml, the Dockerfile and the reverse proxy only name things that exist in the code."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
import yaml

from services.cli import COMMANDS, SERVICE_COMMANDS
from shared.platform.settings import SERVICE_PORTS, SERVICES
from tests.ops.support import ROOT, known_env_vars

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
APP_IMAGE = "monlyceepro:latest"


def app_containers() -> dict[str, dict]:
    return {name: svc for name, svc in COMPOSE["services"].items() if svc.get("image") == APP_IMAGE}


def served(svc: dict) -> str | None:
    command = svc.get("command") or []
    return command[1] if command[:1] == ["serve"] else None


def test_each_service_runs_once_on_its_port_with_a_readiness_healthcheck():
    containers = app_containers()
    by_service = {served(svc): name for name, svc in containers.items() if served(svc)}
    assert sorted(by_service) == sorted(SERVICES)
    for service, name in by_service.items():
        svc, port = containers[name], SERVICE_PORTS[service]
        command = svc["command"]
        assert command[command.index("--port") + 1] == str(port), name
        assert f"127.0.0.1:{port}:{port}" in svc["ports"], name
        check = " ".join(svc["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}/readyz" in check, name
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"


def test_one_shot_commands_exist_in_the_cli():
    for name, svc in app_containers().items():
        command = svc["command"][0]
        assert command in COMMANDS or command in SERVICE_COMMANDS, f"{name}: `monlyceepro {command}` n'existe pas"
    loader = COMPOSE["services"]["catalog-loader"]
    assert loader["command"] == ["load-catalog"]
    assert loader["restart"] == "no"
    catalog_deps = COMPOSE["services"]["catalog"]["depends_on"]
    assert catalog_deps["catalog-loader"]["condition"] == "service_completed_successfully"


def test_the_schemas_are_migrated_before_any_container_of_the_app_starts():
    migrate = COMPOSE["services"]["migrate"]
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name, svc in app_containers().items():
        if name != "migrate":
            assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_every_mlp_variable_is_a_setting():
    known = known_env_vars()
    seen: set[str] = set()
    for name, svc in app_containers().items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment doit être un dictionnaire"
        for key in env:
            if key.startswith("MLP_"):
                seen.add(key)
                assert key in known, f"{name}: {key} n'est pas un champ de Settings ni d'un config.py"
    assert {"MLP_REDIS_URL", "MLP_DATABASE_URL", "MLP_SECRET_KEY", "MLP_SMTP_URL"} <= seen


def test_each_service_gets_its_own_postgres_database():
    env = app_containers()["intake"]["environment"]
    assert "{service}" in env["MLP_DATABASE_URL"]
    assert urlparse(env["MLP_DATABASE_URL"].replace("{service}", "x")).hostname == "postgres"
    init = (ROOT / "deploy/postgres/init-databases.sh").read_text(encoding="utf-8")
    assert "for service in " + " ".join(SERVICES) + ";" in init or all(s in init for s in SERVICES)
    assert urlparse(env["MLP_REDIS_URL"]).hostname == "redis"
    assert urlparse(env["MLP_SMTP_URL"]).hostname == "mailpit"
    assert env["MLP_ENV"] == "prod"  # refuses a placeholder secret key at start-up


def test_internal_urls_point_to_the_right_containers():
    env = app_containers()["intake"]["environment"]
    for var, service in (("MLP_CATALOG_URL", "catalog"),):
        parsed = urlparse(env[var])
        assert (parsed.hostname, parsed.port) == (service, SERVICE_PORTS[service]), var


@pytest.mark.parametrize("path", sorted({
    m.split(":")[0] for svc in COMPOSE["services"].values() for m in svc.get("volumes", []) if m.startswith("./")
}))
def test_mounted_files_exist(path):
    assert (ROOT / path).exists(), path


def test_prometheus_scrapes_the_four_services():
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    targets = {job["job_name"]: target for job in config["scrape_configs"]
               for sc in job["static_configs"] for target in sc["targets"]}
    for service, port in SERVICE_PORTS.items():
        assert targets[service] == f"{service}:{port}"
        assert service in COMPOSE["services"]


def test_reverse_proxy_upstreams_exist():
    caddyfile = (ROOT / "deploy/caddy/Caddyfile").read_text(encoding="utf-8")
    upstreams = set(re.findall(r"reverse_proxy\s+([a-z]+):(\d+)", caddyfile))
    assert upstreams == {("intake", "8001"), ("catalog", "8002"), ("notifier", "8004")}
    for host, port in upstreams:
        assert SERVICE_PORTS[host] == int(port)
    for public in ("/demande", "/suivi/*", "/impact", "/api/v1/requests", "/actions/*"):
        assert public in caddyfile
    assert re.search(r"@internal path /metrics", caddyfile)  # metrics are not published


def test_dockerfile_installs_from_the_lock_and_runs_the_cli():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text(encoding="utf-8")
    assert "COPY pyproject.toml uv.lock" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "npm ci --ignore-scripts" in dockerfile
    assert 'ENTRYPOINT ["monlyceepro"]' in dockerfile
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'monlyceepro = "services.cli:main"' in pyproject
    for path in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, flags=re.M):
        assert (ROOT / path).exists(), path
