"""Quality of job-text -> lycée routing on the labelled cases of tests/quality/job_cases.csv.

    .venv/bin/python -m tests.quality.job_eval [--cases tests/quality/job_cases.csv] [--limit N]
                                               [--markdown-out PATH]

Builds the real catalog snapshot (as bench/routing.py does), then for every case: reads the job text
(``ranked_jobs``) and routes a PFMP request from the case's commune (``route``). The two adapters
below are the only coupling to the routing API. Prints a markdown table (overall, per domain, per
kind) and writes the failing cases to tests/quality/last_failures.txt.

Definitions:
* acceptable CFDs: snapshot formations whose folded "diploma label" matches a case pattern;
* relevant lycée: one whose offer holds an acceptable CFD on the school track (the cases are PFMP
  requests, and an intern is a school-track pupil: an apprentice already has an employer); an offer the catalog only
  infers from the lycée's "2nde commune" (``LyceeView.inferred``, when the read model has it) does not
  count: it is the case the 2nde-only column is about;
* routable case: a relevant lycée lies within 150 km of the commune, in the same territory;
* nearest reached: a recipient lycée is relevant and within (nearest relevant + 15 km);
* 2nde-only: a recipient lycée whose listed formations are all common first-year codes
  (data/groupes_formation.csv, role tronc_commun) or offers inferred from one.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bench.routing import real_snapshot
from services.matcher.service import CatalogReadModel, Decision, RoutingQuery, decide
from shared.contracts.catalog_snapshot import CatalogSnapshot
from shared.reference.geo import Commune, CommuneIndex, haversine_km, load_communes
from tests.quality.cases import CASES_CSV, HERE, JobCase, formation_key, load_cases, tronc_commun_cfds

STEPS = [30, 60, 100, 150]
K = 3
NEEDS = ["pfmp"]
MAX_KM = 150.0
NEAREST_SLACK_KM = 15.0
FAILURES_TXT = HERE / "last_failures.txt"


# -- adapters to the routing under test (switch these to a new resolver API) -----------------------
def ranked_jobs(model: CatalogReadModel, text: str) -> list[str]:
    """ROME codes for the typed job, best first."""
    if hasattr(model, "resolve_job"):  # the resolver before shared.reference.jobs (24af723): an unordered set
        return sorted(model.resolve_job(text))
    understood = model.resolver.understand(text)
    return [j.rome for j in understood.jobs + understood.alternatives]


def route(model: CatalogReadModel, text: str, commune: Commune) -> Decision:
    """The routing decision for a PFMP request about ``text`` from ``commune``."""
    return decide(model, query_for(text, commune), k=K, steps=STEPS, loads={}, today=date.today())


# -- inputs ----------------------------------------------------------------------------------------
def query_for(text: str, commune: Commune) -> RoutingQuery:
    """The query the matcher builds for a request located by its commune (as flows.build_query)."""
    territoire = load_communes().territoire(commune.departement)
    return RoutingQuery(
        request_id=uuid.uuid4(), needs=list(NEEDS), jobs=[text], naf=None,
        latitude=commune.latitude, longitude=commune.longitude, territory=commune.territory,
        academie=territoire.academie if territoire else None, commune_name=commune.name,
    )


class Catalog:
    """The read model plus the indexes the metrics need (CFD -> lycées, folded formation labels)."""

    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self.model = CatalogReadModel(snapshot)
        self.formation_keys = {f.cfd: formation_key(f.diploma, f.label) for f in snapshot.formations}
        self.lycees_by_cfd: dict[str, list[str]] = defaultdict(list)
        for uai, ly in self.model.lycees.items():
            for cfd, tracks in ly.offers.items():
                # The cases are PFMP requests: an intern is a school-track pupil (apprentices are employed).
                if cfd not in self.inferred(uai) and "scolaire" in tracks:
                    self.lycees_by_cfd[cfd].append(uai)

    def inferred(self, uai: str) -> frozenset[str]:
        """Offers the catalog infers from the lycée's 2nde commune (read models that mark them)."""
        return getattr(self.model.lycees[uai], "inferred", frozenset())

    def acceptable_cfds(self, case: JobCase) -> set[str]:
        patterns = [re.compile(p) for p in case.patterns]
        return {cfd for cfd, key in self.formation_keys.items() if any(p.search(key) for p in patterns)}

    def relevant_lycees(self, cfds: Iterable[str]) -> set[str]:
        return {uai for cfd in cfds for uai in self.lycees_by_cfd.get(cfd, ())}

    def distance_km(self, commune: Commune, uai: str) -> float:
        ly = self.model.lycees[uai]
        return haversine_km(commune.latitude, commune.longitude, ly.latitude, ly.longitude)


# -- one case --------------------------------------------------------------------------------------
@dataclass(slots=True)
class CaseResult:
    case: JobCase
    commune: Commune
    ranked: list[str]
    nearest_km: float | None  # nearest relevant lycée in the commune's territory
    recipients: list[str]  # recipient lycées (UAIs)
    relevant_recipients: list[str]
    reached_nearest: bool
    second_only: list[str]  # recipient lycées listed with common first-year formations only
    apprenticeship_only: bool  # routable only through lycées teaching the formation as apprentices

    @property
    def hit1(self) -> bool:
        return bool(set(self.ranked[:1]) & self.case.romes)

    @property
    def hit3(self) -> bool:
        return bool(set(self.ranked[:3]) & self.case.romes)

    @property
    def routable(self) -> bool:
        return self.nearest_km is not None and self.nearest_km <= MAX_KM

    def reasons(self) -> list[str]:
        out = []
        if not self.ranked:
            out.append("job not resolved")
        elif not self.hit3:
            out.append("expected ROME not in top 3")
        if not self.routable:
            out.append("not routable: no relevant lycée within 150 km")
        elif not self.recipients:
            out.append("no recipient")
        elif not self.relevant_recipients:
            out.append("no relevant recipient")
        elif not self.reached_nearest:
            out.append(f"nearest relevant lycée ({self.nearest_km:.0f} km) not reached")
        irrelevant = len(self.recipients) - len(self.relevant_recipients)
        if self.relevant_recipients and irrelevant:
            out.append(f"{irrelevant}/{len(self.recipients)} recipient(s) not relevant")
        if self.second_only:
            out.append(f"{len(self.second_only)} recipient(s) matched on 2nde commune only")
        return out


def evaluate(catalog: Catalog, communes: CommuneIndex, tronc: frozenset[str], case: JobCase) -> CaseResult:
    commune = communes.by_insee[case.commune_insee]
    ranked = ranked_jobs(catalog.model, case.text)
    decision = route(catalog.model, case.text, commune)
    acceptable = catalog.acceptable_cfds(case)
    relevant = catalog.relevant_lycees(acceptable)
    distances = {u: catalog.distance_km(commune, u) for u in relevant
                 if catalog.model.lycees[u].territory == commune.territory}
    nearest = min(distances.values(), default=None)
    recipients = [u for plan in decision.recipients for u in plan.uais]
    relevant_recipients = [u for u in recipients if u in relevant]
    reached = nearest is not None and any(distances.get(u, float("inf")) <= nearest + NEAREST_SLACK_KM
                                          for u in relevant_recipients)
    return CaseResult(case, commune, ranked, nearest, recipients, relevant_recipients, reached,
                      second_only_recipients(catalog, decision, tronc), apprenticeship_only(catalog, distances, acceptable))


def second_only_recipients(catalog: Catalog, decision: Decision, tronc: frozenset[str]) -> list[str]:
    """Recipient lycées whose formations, as listed in the decision, are all common first-year codes
    (or offers inferred from one). The chosen candidates carry each lycée's own share of its
    RecipientPlan.formations."""
    return [c.uai for c in decision.candidates
            if c.chosen and c.formations
            and all(cfd in tronc or cfd in catalog.inferred(c.uai) for cfd, _ in c.formations)]


def apprenticeship_only(catalog: Catalog, distances: dict[str, float], acceptable: set[str]) -> bool:
    """True when every relevant lycée within 150 km teaches the acceptable formations only as
    apprenticeship (a PFMP request needs a school track)."""
    near = [u for u, d in distances.items() if d <= MAX_KM]
    if not near:
        return False
    return not any("scolaire" in tracks for u in near
                   for cfd, tracks in catalog.model.lycees[u].offers.items()
                   if cfd in acceptable and cfd not in catalog.inferred(u))


# -- aggregation -----------------------------------------------------------------------------------
@dataclass(slots=True)
class Tally:
    n: int = 0
    hit1: int = 0
    hit3: int = 0
    routable: int = 0
    no_recipient: int = 0  # among routable cases
    no_relevant_recipient: int = 0  # among routable cases (includes no recipient)
    reached: int = 0  # among routable cases
    recipients: int = 0
    relevant_recipients: int = 0
    second_only: int = 0
    cases: list[CaseResult] = field(default_factory=list)

    def add(self, r: CaseResult) -> None:
        self.n += 1
        self.hit1 += r.hit1
        self.hit3 += r.hit3
        self.recipients += len(r.recipients)
        self.relevant_recipients += len(r.relevant_recipients)
        self.second_only += len(r.second_only)
        if r.routable:
            self.routable += 1
            self.no_recipient += not r.recipients
            self.no_relevant_recipient += not r.relevant_recipients
            self.reached += r.reached_nearest


HEADER = ("| group | cases | P@1 | P@3 | routable | no recipient¹ | no relevant recipient¹ | nearest reached¹ "
          "| precision² | 2nde-only² |\n|---|---|---|---|---|---|---|---|---|---|")
FOOTNOTES = ("¹ among routable cases (a relevant lycée within 150 km, same territory). "
             "² share of recipient lycées, over all cases.")


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "–"


def table_row(name: str, t: Tally) -> str:
    return (f"| {name} | {t.n} | {pct(t.hit1, t.n)} | {pct(t.hit3, t.n)} | {t.routable} ({pct(t.routable, t.n)}) "
            f"| {pct(t.no_recipient, t.routable)} | {pct(t.no_relevant_recipient, t.routable)} "
            f"| {pct(t.reached, t.routable)} | {pct(t.relevant_recipients, t.recipients)} "
            f"| {pct(t.second_only, t.recipients)} |")


def grouped(results: list[CaseResult], key) -> dict[str, Tally]:
    groups: dict[str, Tally] = defaultdict(Tally)
    for r in results:
        groups[key(r)].add(r)
    return dict(sorted(groups.items()))


def report(results: list[CaseResult]) -> tuple[str, str]:
    """(overall table, full table with per-domain and per-kind rows) in markdown."""
    overall = Tally()
    for r in results:
        overall.add(r)
    overall_md = "\n".join([HEADER, table_row("**all**", overall), "", FOOTNOTES])
    rows = [HEADER, table_row("**all**", overall)]
    rows += [table_row(f"domain: {name}", t) for name, t in grouped(results, lambda r: r.case.domain).items()]
    rows += [table_row(f"kind: {name}", t) for name, t in grouped(results, lambda r: r.case.kind).items()]
    return overall_md, "\n".join([*rows, "", FOOTNOTES])


def failure_entries(catalog: Catalog, results: list[CaseResult]) -> list[str]:
    """One text block per case with at least one failure reason."""
    labels = catalog.model.rome_labels
    entries = []
    for r in results:
        reasons = r.reasons()
        if not reasons:
            continue
        top = ", ".join(f"{c} {labels.get(c, '?')}" for c in r.ranked[:3]) or "(none)"
        entries.append(f"line {r.case.line} [{r.case.domain}/{r.case.kind}] {r.case.text!r} @ {r.commune.name} "
                     f"({r.case.commune_insee})\n  top-3: {top} ({len(r.ranked)} codes)"
                       f"\n  expected: {';'.join(sorted(r.case.romes))}\n  reasons: {'; '.join(reasons)}")
    return entries


# -- main ------------------------------------------------------------------------------------------
def run(cases_path: Path, limit: int | None, markdown_out: Path | None) -> None:
    started = time.perf_counter()
    cases = load_cases(cases_path)[:limit] if limit else load_cases(cases_path)
    catalog = Catalog(real_snapshot())
    communes = load_communes()
    tronc = tronc_commun_cfds()
    built = time.perf_counter()
    results = [evaluate(catalog, communes, tronc, case) for case in cases]
    overall_md, full_md = report(results)
    print(full_md)
    failing = failure_entries(catalog, results)
    FAILURES_TXT.write_text("\n".join(failing) + "\n", encoding="utf-8")
    apprentices = sum(r.routable and r.apprenticeship_only for r in results)
    print(f"\n{len(results)} cases, {len(failing)} with at least one failure reason (listed in {FAILURES_TXT}); "
          f"{apprentices} routable case(s) reachable only through apprenticeship offers.")
    print(f"catalog built in {built - started:.1f} s, cases evaluated in {time.perf_counter() - built:.1f} s")
    if markdown_out:
        markdown_out.write_text(overall_md + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES_CSV)
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N cases")
    parser.add_argument("--markdown-out", type=Path, default=None, help="write the overall table to this file")
    args = parser.parse_args(argv)
    run(args.cases, args.limit, args.markdown_out)


if __name__ == "__main__":
    main(sys.argv[1:])
