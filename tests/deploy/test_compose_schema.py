"""docker-compose.yml is a valid Compose file: checked against the Compose Specification's JSON
schema kept in deploy/schemas/ (source and version in its README), without Docker."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from tests.ops.support import ROOT

SCHEMA = ROOT / "deploy/schemas/compose-spec.json"
COMPOSE = ROOT / "docker-compose.yml"


def check(path) -> subprocess.CompletedProcess:
    """What CI and docs/operations.md run: check-jsonschema with the kept schema."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA), str(path)],
        capture_output=True, text=True, timeout=120,
    )


def test_docker_compose_yml_follows_the_compose_specification():
    result = check(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_mistake_is_caught_even_inside_a_merged_anchor(tmp_path):
    """The schema sees the file with its `<<: *anchor` merges resolved, as Compose does: a key
    that no service may have, written once in x-app-build, makes every app service invalid."""
    text = COMPOSE.read_text(encoding="utf-8")
    assert "x-app-build: &app-build\n  build:\n" in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace("x-app-build: &app-build\n", "x-app-build: &app-build\n  restrat: always\n"),
                      encoding="utf-8")
    result = check(broken)
    assert result.returncode == 1
    assert "restrat" in result.stdout + result.stderr


def test_a_wrong_type_is_caught(tmp_path):
    text = COMPOSE.read_text(encoding="utf-8")
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace("      retries: 20\n", "      retries: [20]\n", 1), encoding="utf-8")
    assert check(broken).returncode == 1


def test_the_kept_schema_is_the_one_its_readme_names():
    readme = (ROOT / "deploy/schemas/README.md").read_text(encoding="utf-8")
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() in readme
    assert (ROOT / "deploy/schemas/LICENSE.compose-spec").exists()
