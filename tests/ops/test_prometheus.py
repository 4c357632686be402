"""Prometheus config and alert rules: valid for promtool, unit-tested, and only about real metrics."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.ops.support import ROOT, metric_is_declared, metrics_in

PROM = ROOT / "deploy" / "prometheus"
RULES = yaml.safe_load((PROM / "alerts.yml").read_text(encoding="utf-8"))
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"] if "alert" in rule]


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:  # scripts/deps.sh --test installs it: missing is a failure, not a skip
        pytest.fail("promtool introuvable : apt-get install -y prometheus (ou scripts/deps.sh --test)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, cwd=PROM)


def test_promtool_check_config():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_rules():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def test_promtool_unit_tests_of_alerts():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_the_issue_asks_for_exist():
    exprs = {rule["alert"]: rule["expr"] for rule in ALERTS}
    assert "mlp_dead_letters_total" in exprs["MlpDeadLettersAppeared"]
    assert "mlp_dead_letter_stream_length" in exprs["MlpDeadLetterStreamNotEmpty"]
    assert "mlp_stream_group_lag" in exprs["MlpConsumerLagGrowing"]
    assert "mlp_stream_group_oldest_pending_age_seconds" in exprs["MlpOldestPendingGrowing"]
    assert "mlp_outbox_backlog" in exprs["MlpOutboxBacklogGrowing"]
    assert "mlp_outbox_oldest_unpublished_age_seconds" in exprs["MlpOutboxStale"]
    assert "mlp_emails_failed_total" in exprs["MlpEmailFailureRatioHigh"] and "0.05" in exprs["MlpEmailFailureRatioHigh"]
    assert "mlp_requests_unanswered_over_5_working_days" in exprs["MlpRequestsUnanswered"]
    assert "mlp_outbound_oldest_pending_age_seconds" in exprs["MlpEmailsWaiting"]
    assert "up{" in exprs["MlpServiceDown"]
    assert "mlp_outbox_published_not_in_stream" in exprs["MlpStreamMissingPublishedEvents"]
    for name in ("MlpConsumerLagGrowing", "MlpOldestPendingGrowing", "MlpOutboxBacklogGrowing"):
        assert next(r for r in ALERTS if r["alert"] == name)["for"] == "5m"


@pytest.mark.parametrize("rule", ALERTS, ids=[r["alert"] for r in ALERTS])
def test_each_alert_is_explained_in_french_with_a_runbook(rule):
    annotations = rule["annotations"]
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    for key in ("summary", "description", "runbook"):
        assert annotations.get(key, "").strip(), f"{rule['alert']}: {key} manquant"
    assert annotations["runbook"].startswith("docs/operations.md#")
    anchor = annotations["runbook"].split("#", 1)[1].split()[0]
    operations = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    assert f'<a id="{anchor}"></a>' in operations, f"ancre {anchor} absente de docs/operations.md"


# Exposed by the notifier (see the report of the ops work): listed until its code declares it.
EXPECTED_FROM_SERVICES = {"mlp_requests_unanswered_over_5_working_days"}


@pytest.mark.parametrize("rule", ALERTS, ids=[r["alert"] for r in ALERTS])
def test_alerts_only_use_metrics_declared_in_code(rule):
    for metric in metrics_in(rule["expr"]):
        if metric in EXPECTED_FROM_SERVICES and not metric_is_declared(metric):
            pytest.xfail(f"{metric} pas encore exposé par le service qui le calcule")
        assert metric_is_declared(metric), f"{rule['alert']}: {metric} n'est déclaré nulle part dans le code"
