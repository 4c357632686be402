"""Builds the Grafana dashboards (JSON) from this file: `python deploy/grafana/build_dashboards.py`.

Dashboards as code: edit the panels here, regenerate, commit both. tests/ops checks that the
committed JSON matches this file and that every `mlp_` metric queried is declared in the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
SERVICES = 'job=~"intake|catalog|matcher|notifier"'


class Layout:
    """Places panels left to right on Grafana's 24-column grid, wrapping to a new line."""

    def __init__(self) -> None:
        self.panels: list[dict] = []
        self.x = 0
        self.y = 0
        self.row_h = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False, "id": len(self.panels) + 1,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def _newline(self) -> None:
        if self.x:
            self.y += self.row_h
            self.x, self.row_h = 0, 0

    def add(self, panel: dict, w: int = 8, h: int = 8) -> None:
        if self.x + w > 24:
            self._newline()
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)


def _targets(queries: list[tuple[str, str]]) -> list[dict]:
    return [
        {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + i)}
        for i, (expr, legend) in enumerate(queries)
    ]


def timeseries(title: str, queries: list[tuple[str, str]], unit: str = "short", description: str = "",
               stack: bool = False) -> dict:
    return {
        "type": "timeseries", "title": title, "description": description, "datasource": DS,
        "targets": _targets(queries),
        "fieldConfig": {"defaults": {"unit": unit, "custom": {
            "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10 if not stack else 60,
            "stacking": {"mode": "normal" if stack else "none"}}}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def stat(title: str, expr: str, unit: str = "short", description: str = "", thresholds: list | None = None,
         legend: str = "") -> dict:
    steps = thresholds or [{"color": "green", "value": None}]
    return {
        "type": "stat", "title": title, "description": description, "datasource": DS,
        "targets": _targets([(expr, legend)]),
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "none", "textMode": "auto"},
    }


def bars(title: str, expr: str, legend: str, description: str = "", unit: str = "short") -> dict:
    return {
        "type": "bargauge", "title": title, "description": description, "datasource": DS,
        "targets": [{"datasource": DS, "expr": expr, "legendFormat": legend, "refId": "A",
                     "instant": True, "format": "time_series"}],
        "fieldConfig": {"defaults": {"unit": unit, "min": 0,
                                     "thresholds": {"mode": "absolute", "steps": [{"color": "blue", "value": None}]}},
                        "overrides": []},
        "options": {"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
    }


RED = [{"color": "green", "value": None}, {"color": "red", "value": 1}]


def dashboard(uid: str, title: str, description: str, layout: Layout, variables: list[dict]) -> dict:
    ds_var = {"name": "datasource", "label": "Source", "type": "datasource", "query": "prometheus",
              "current": {"text": "Prometheus", "value": "prometheus"}, "hide": 0}
    return {
        "uid": uid, "title": title, "description": description, "tags": ["monlyceepro"],
        "timezone": "Europe/Paris", "editable": True, "graphTooltip": 1, "schemaVersion": 39,
        "version": 1, "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [ds_var, *variables]}, "annotations": {"list": []},
        "links": [], "panels": layout.panels,
    }


def pipeline() -> dict:
    lay = Layout()
    lay.row("Services")
    lay.add(stat("Services joignables", f"sum(up{{{SERVICES}}})", description="Sur 4.",
                 thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 4}]), w=4, h=4)
    lay.add(stat("Lettres mortes en attente", "sum(max by (group) (mlp_dead_letter_stream_length))",
                 thresholds=RED), w=5, h=4)
    lay.add(stat("Événements non publiés (outbox)", "sum(max by (service) (mlp_outbox_backlog))",
                 thresholds=RED), w=5, h=4)
    lay.add(stat("Entrées en attente (tous groupes)", "sum(max by (stream, group) (mlp_stream_group_pending))",
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 10}]), w=5, h=4)
    lay.add(stat("Plus vieille entrée en attente", "max(mlp_stream_group_oldest_pending_age_seconds)", unit="s",
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 60},
                             {"color": "red", "value": 300}]), w=5, h=4)
    lay.row("HTTP")
    lay.add(timeseries("Requêtes par seconde", [
        ("sum by (service) (rate(mlp_http_requests_total[$__rate_interval]))", "{{service}}")], unit="reqps"))
    lay.add(timeseries("Part d'erreurs 5xx", [
        ('sum by (service) (rate(mlp_http_requests_total{status=~"5.."}[$__rate_interval]))'
         " / sum by (service) (rate(mlp_http_requests_total[$__rate_interval]))", "{{service}}")],
        unit="percentunit"))
    lay.add(timeseries("Latence p95 par service", [
        ("histogram_quantile(0.95, sum by (service, le) "
         "(rate(mlp_http_request_duration_seconds_bucket[$__rate_interval])))", "{{service}}")], unit="s"))
    lay.add(timeseries("Latence p95 par route", [
        ("histogram_quantile(0.95, sum by (service, route, method, le) "
         "(rate(mlp_http_request_duration_seconds_bucket[$__rate_interval])))", "{{service}} {{method}} {{route}}")],
        unit="s"), w=12)
    lay.add(timeseries("Réponses par code", [
        ("sum by (service, status) (rate(mlp_http_requests_total[$__rate_interval]))", "{{service}} {{status}}")],
        unit="reqps", stack=True), w=12)
    lay.row("Flux Redis")
    lay.add(timeseries("Retard des groupes (lag)", [
        ("max by (stream, group) (mlp_stream_group_lag)", "{{group}} ← {{stream}}")],
        description="Entrées pas encore distribuées au groupe : un consommateur arrêté fait monter cette courbe."))
    lay.add(timeseries("Entrées en attente (pending)", [
        ("max by (stream, group) (mlp_stream_group_pending)", "{{group}} ← {{stream}}")],
        description="Distribuées mais non acquittées (en cours ou en échec, reprises par le claimer)."))
    lay.add(timeseries("Âge de la plus vieille entrée en attente", [
        ("max by (stream, group) (mlp_stream_group_oldest_pending_age_seconds)", "{{group}} ← {{stream}}")],
        unit="s"))
    lay.add(timeseries("Longueur des flux", [("max by (stream) (mlp_stream_length)", "{{stream}}")]))
    lay.add(timeseries("Événements traités par issue", [
        ("sum by (group, outcome) (rate(mlp_events_consumed_total[$__rate_interval]))", "{{group}} {{outcome}}")],
        unit="ops"))
    lay.add(timeseries("Durée de traitement p95", [
        ("histogram_quantile(0.95, sum by (group, stream, le) "
         "(rate(mlp_event_handle_seconds_bucket[$__rate_interval])))", "{{group}} ← {{stream}}")], unit="s"))
    lay.add(timeseries("Taille moyenne des lots lus", [
        ("sum by (group) (rate(mlp_event_batch_size_sum[$__rate_interval])) / "
         "sum by (group) (rate(mlp_event_batch_size_count[$__rate_interval]))", "{{group}}")],
        description="Entrées lues ensemble et traitées dans une seule transaction. Près de 1 : trafic "
                    "faible ; qui monte : un arriéré se forme et les consommateurs le rattrapent par lots."))
    lay.add(timeseries("Demandes enregistrées par transaction (intake)", [
        ("sum(rate(mlp_intake_accept_batch_size_sum[$__rate_interval])) / "
         "sum(rate(mlp_intake_accept_batch_size_count[$__rate_interval]))", "demandes par transaction")],
        description="Les demandes reçues au même moment partagent une transaction. Près de 1 : trafic "
                    "faible ; qui monte : afflux (jour de lancement), absorbé par lots."))
    lay.add(timeseries("Lettres mortes (taille des flux)", [
        ("max by (group) (mlp_dead_letter_stream_length)", "mlp.deadletter.{{group}}")]), w=12)
    lay.add(timeseries("Mises en lettres mortes", [
        ("sum by (group, reason) (increase(mlp_dead_letters_total[$__rate_interval]))", "{{group}} {{reason}}")]),
        w=12)
    lay.row("Outbox")
    lay.add(timeseries("Événements non publiés", [("max by (service) (mlp_outbox_backlog)", "{{service}}")]))
    lay.add(timeseries("Âge du plus vieil événement non publié", [
        ("max by (service) (mlp_outbox_oldest_unpublished_age_seconds)", "{{service}}")], unit="s"))
    lay.add(timeseries("Publication", [
        ("sum by (service) (rate(mlp_outbox_published_total[$__rate_interval]))", "{{service}} publiés"),
        ("sum by (service) (rate(mlp_outbox_publish_errors_total[$__rate_interval]))", "{{service}} erreurs")],
        unit="ops"))
    lay.add(timeseries("Purge des tables de suivi et des flux (24 h)", [
        ("sum by (service, table) (increase(mlp_housekeeping_deleted_total[24h]))", "{{service}} {{table}}"),
        ("sum by (stream) (increase(mlp_stream_entries_trimmed_total[24h]))", "flux {{stream}}")],
        description="Lignes d'outbox publiées et clés d'événements traités supprimées par la purge horaire "
                    "(MLP_OUTBOX_KEEP_DAYS, MLP_PROCESSED_KEEP_DAYS), entrées des flux Redis au-delà de "
                    "MLP_STREAM_KEEP_DAYS. À zéro des jours durant alors que le trafic continue : la purge ne "
                    "tourne plus et les tables grossissent."), w=16)
    lay.add(timeseries("Écritures SQLite : boucle ou fil", [
        ("sum by (pool, ran_on) (rate(mlp_db_writes_total[$__rate_interval]))", "{{pool}} {{ran_on}}")],
        unit="ops",
        description="Les écritures les plus fréquentes (demandes acceptées, relais de l'outbox) passent sur la "
                    "boucle d'événements quand le verrou d'écriture de SQLite est libre, sur un fil sinon. "
                    "Une part durable de « thread » : un autre processus écrit dans le même fichier."), w=8)
    lay.row("Courriels")
    lay.add(timeseries("Courriels envoyés / en échec", [
        ("sum by (kind) (rate(mlp_emails_sent_total[$__rate_interval]))", "envoyés {{kind}}"),
        ("sum by (kind) (rate(mlp_emails_failed_total[$__rate_interval]))", "échecs {{kind}}"),
        ("sum(rate(mlp_emails_bounced_total[$__rate_interval]))", "rejets (bounces)"),
        ("sum(rate(mlp_email_send_errors_total[$__rate_interval]))", "tentatives SMTP en erreur (réessayées)")],
        unit="ops", description="« échecs » = abandonnés après le nombre maximal de tentatives."))
    lay.add(timeseries("Taux d'échec des envois", [
        ("sum(rate(mlp_emails_failed_total[$__rate_interval])) / (sum(rate(mlp_emails_sent_total[$__rate_interval]))"
         " + sum(rate(mlp_emails_failed_total[$__rate_interval])))", "échecs")], unit="percentunit",
        description="L'alerte se déclenche au-dessus de 5 %."))
    lay.add(timeseries("Courriels en attente d'envoi", [
        ("max(mlp_outbound_emails_pending)", "copies en attente"),
        ("max(mlp_outbound_oldest_pending_age_seconds)", "âge de la plus ancienne (s)")],
        description="Copies mises en file et pas encore acceptées par le relais SMTP. Lors d'un afflux "
                    "au-delà de la capacité, les copies au RBE pilote partent d'abord : accusés de réception "
                    "et autres copies attendent ici. L'alerte se déclenche au-delà de 15 minutes."))
    lay.add(timeseries("Courriels reçus par issue", [
        ("sum by (outcome) (increase(mlp_inbound_messages_total[$__rate_interval]))", "{{outcome}}")], stack=True,
        description="accepted, bad_token, wrong_sender, auto_reply, bounce…"))
    return dashboard("mlp-pipeline", "MonLycéePro — santé du pipeline",
                     "Les demandes circulent-elles, sont-elles bloquées, perdues ou sans réponse ?", lay, [])


def impact() -> dict:
    lay = Layout()
    filt = 'academie=~"$academie", need=~"$need"'
    variables = [
        {"name": "academie", "label": "Académie", "type": "query", "datasource": DS,
         "query": {"query": "label_values(mlp_requests_routed_total, academie)", "refId": "academie"},
         "definition": "label_values(mlp_requests_routed_total, academie)", "refresh": 2, "multi": True,
         "includeAll": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1},
        {"name": "need", "label": "Type de besoin", "type": "query", "datasource": DS,
         "query": {"query": "label_values(mlp_requests_routed_total, need)", "refId": "need"},
         "definition": "label_values(mlp_requests_routed_total, need)", "refresh": 2, "multi": True,
         "includeAll": True, "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1},
    ]
    lay.row("Sur la période")
    lay.add(stat("Demandes reçues", "sum(increase(mlp_requests_received_total[$__range]))"), w=4, h=5)
    lay.add(stat("Demandes refusées", "sum(increase(mlp_requests_rejected_total[$__range]))"), w=4, h=5)
    lay.add(stat("Routées vers des lycées",
                 f'sum(increase(mlp_requests_routed_total{{outcome="routed", {filt}}}[$__range]))'), w=4, h=5)
    lay.add(stat("Sans lycée pertinent",
                 f'sum(increase(mlp_requests_routed_total{{outcome="unroutable", {filt}}}[$__range]))',
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]), w=4, h=5)
    lay.add(stat("Délai médian de première réponse",
                 "histogram_quantile(0.5, sum by (le) (increase(mlp_first_answer_seconds_bucket[$__range])))",
                 unit="s"), w=4, h=5)
    lay.add(stat("Sans réponse > 5 jours ouvrés", "max(mlp_requests_unanswered_over_5_working_days)",
                 thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]), w=4, h=5)
    lay.row("Interactions et actions conjointes (12 derniers mois, chiffres exacts)")
    acad = 'academie=~"$academie"'
    # One series per académie even with several intake instances (each computes the same figures).
    lay.add(stat("Interactions", f"sum(max by (academie) (mlp_impact_interactions{{{acad}}}))",
                 description="Demandes avec une réponse humaine d'un lycée (docs/impact.md)"), w=4, h=5)
    lay.add(stat("Actions conjointes", f"sum(max by (academie, kind) (mlp_impact_joint_actions{{{acad}}}))"),
            w=4, h=5)
    lay.add(stat("Taux de réponse (France)", 'max(mlp_impact_answer_rate{academie="all"})', unit="percentunit"),
            w=4, h=5)
    lay.add(stat("Délai médian de première réponse (France)",
                 'max(mlp_impact_first_answer_median_hours{academie="all"})', unit="h"), w=4, h=5)
    lay.add(bars("Actions conjointes par type",
                 f"sort_desc(sum by (kind) (max by (academie, kind) (mlp_impact_joint_actions{{{acad}}})))",
                 "{{kind}}"), w=8, h=10)
    lay.add(bars("Interactions par académie",
                 f"sort_desc(max by (academie) (mlp_impact_interactions{{{acad}}}))", "{{academie}}"), w=8, h=10)
    lay.add(bars("Taux de réponse par académie",
                 f"sort_desc(max by (academie) (mlp_impact_answer_rate{{{acad}}}))", "{{academie}}",
                 unit="percentunit"), w=8, h=10)
    lay.row("Par académie et par besoin")
    lay.add(bars("Demandes routées par académie",
                 f'sort_desc(sum by (academie) (increase(mlp_requests_routed_total{{outcome="routed", {filt}}}'
                 "[$__range])))", "{{academie}}"), w=12, h=12)
    lay.add(bars("Demandes routées par type de besoin",
                 f'sort_desc(sum by (need) (increase(mlp_requests_routed_total{{outcome="routed", {filt}}}'
                 "[$__range])))", "{{need}}"), w=12, h=12)
    lay.add(bars("Sans lycée pertinent, par académie",
                 f'sort_desc(sum by (academie) (increase(mlp_requests_routed_total{{outcome="unroutable", {filt}}}'
                 "[$__range])))", "{{academie}}"), w=12, h=10)
    lay.add(bars("Issues du routage", f"sum by (outcome) (increase(mlp_requests_routed_total{{{filt}}}[$__range]))",
                 "{{outcome}}", description="routed, unroutable, followup (demande répétée), escalated"), w=12, h=10)
    lay.row("Couverture du réseau : RBE désignés et fiches complétées")
    # Every catalog replica sets the same gauges: one series per (académie, département) first.
    def per_academie(metric: str) -> str:
        return f'sum by (academie) (max by (academie, departement) ({metric}{{academie=~"$academie"}}))'

    def national(metric: str) -> str:
        return f"sum(max by (academie, departement) ({metric}))"

    lay.add(stat("Lycées avec un RBE confirmé", f"{national('mlp_catalog_network_lycees_with_rbe')} / "
                 f"{national('mlp_catalog_network_lycees')}", unit="percentunit",
                 description="Part des lycées dont le ou la RBE est désigné(e) et a confirmé (issue 22)."), w=6, h=5)
    lay.add(stat("Lycées à la fiche complétée", f"{national('mlp_catalog_network_lycees_profile_complete')} / "
                 f"{national('mlp_catalog_network_lycees')}", unit="percentunit",
                 description="Services, périodes de PFMP et présentation renseignés."), w=6, h=5)
    lay.add(bars("RBE confirmé, par académie", f"sort_desc({per_academie('mlp_catalog_network_lycees_with_rbe')} / "
                 f"{per_academie('mlp_catalog_network_lycees')})", "{{academie}}", unit="percentunit"), w=12, h=12)
    lay.add(bars("Fiche complétée, par académie",
                 f"sort_desc({per_academie('mlp_catalog_network_lycees_profile_complete')} / "
                 f"{per_academie('mlp_catalog_network_lycees')})", "{{academie}}", unit="percentunit"), w=12, h=12)
    lay.row("Dans le temps")
    lay.add(timeseries("Demandes reçues et refusées", [
        ("sum by (channel) (increase(mlp_requests_received_total[$__rate_interval]))", "reçues ({{channel}})"),
        ("sum by (reason) (increase(mlp_requests_rejected_total[$__rate_interval]))", "refusées ({{reason}})")],
        stack=True), w=12)
    lay.add(timeseries("Routage par issue", [
        (f"sum by (outcome) (increase(mlp_requests_routed_total{{{filt}}}[$__rate_interval]))", "{{outcome}}")],
        stack=True), w=12)
    lay.add(timeseries("Délai de première réponse (routage → réponse humaine)", [
        ("histogram_quantile(0.5, sum by (le) (rate(mlp_first_answer_seconds_bucket[$__rate_interval])))",
         "médiane"),
        ("histogram_quantile(0.9, sum by (le) (rate(mlp_first_answer_seconds_bucket[$__rate_interval])))", "p90")],
        unit="s"))
    lay.add(timeseries("Délai dépôt → routage", [
        ("histogram_quantile(0.5, sum by (le) (rate(mlp_routing_delay_seconds_bucket[$__rate_interval])))",
         "médiane"),
        ("histogram_quantile(0.95, sum by (le) (rate(mlp_routing_delay_seconds_bucket[$__rate_interval])))",
         "p95")], unit="s"))
    lay.add(timeseries("Destinataires par demande", [
        ("sum(rate(mlp_routing_recipients_sum[$__rate_interval])) / sum(rate(mlp_routing_recipients_count"
         "[$__rate_interval]))", "moyenne")]))
    lay.add(timeseries("Affectations par statut", [("sum by (status) (mlp_assignments)", "{{status}}")],
                       stack=True, description="pending, accepted, declined, transferred, expired, answered"))
    lay.add(timeseries("Actions des RBE (liens en un clic)", [
        ("sum by (action) (increase(mlp_assignment_actions_total[$__rate_interval]))", "{{action}}")], stack=True))
    lay.add(timeseries("Relances et escalades", [
        ("sum by (step) (increase(mlp_reminders_total[$__rate_interval]))", "{{step}}")], stack=True))
    return dashboard("mlp-impact", "MonLycéePro — impact",
                     "Interactions créées entre entreprises et lycées, par académie et par type de besoin.",
                     lay, variables)


def render() -> dict[str, str]:
    return {
        "pipeline-health.json": json.dumps(pipeline(), ensure_ascii=False, indent=2) + "\n",
        "impact.json": json.dumps(impact(), ensure_ascii=False, indent=2) + "\n",
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, text in render().items():
        path = OUT / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("Tableaux de bord à régénérer : " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
