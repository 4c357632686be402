"""Catalog domain logic: places, searches and lycée profiles (no framework, no commit)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from urllib.parse import urlencode

from services.catalog.schemas import (
    CommuneSuggestion,
    ContactInfo,
    DomainGroup,
    EventOut,
    FormationBrief,
    InsertionFigure,
    JobGroup,
    JobUnderstanding,
    LyceeProfile,
    LyceeResult,
    LyceeSearchPage,
    PfmpClassOut,
    UnderstoodFormation,
    UnderstoodJob,
)
from services.catalog.service.profile import EVENT_KINDS, class_label, event_when, lines
from services.catalog.service.readmodel import MergedOffer, ReadModel
from services.catalog.service.search import SearchIndex, SearchQuery
from shared.contracts.events import NEED_TYPES
from shared.reference.geo import Commune, CommuneIndex, territory_of
from shared.reference.jobs import JobSense, Understanding
from shared.reference.periods import Period

NAF_RE = re.compile(r"^\s*(\d{2})(?:\.?\d{0,2}[A-Za-z]?)?\s*$")

LEVEL_TEXT = {
    "CAP": "niveau 3, 2 ans", "CAPA": "niveau 3, 2 ans", "BAC PRO": "niveau 4, 3 ans", "BAC PRO AG": "niveau 4, 3 ans",
    "BP": "niveau 4, 2 ans en apprentissage", "BPA": "niveau 3", "MC": "mention complémentaire, 1 an après un diplôme",
    "BTS": "niveau 5, 2 ans après le bac", "BTSA": "niveau 5, 2 ans après le bac", "DMA": "niveau 5, 2 ans après le bac",
    "BMA": "niveau 4, 2 ans", "DNMADE": "niveau 6, 3 ans après le bac",
}
NEED_LABELS = {
    "pfmp": "Accueil de stagiaires (PFMP)", "apprentissage": "Apprentissage", "recrutement": "Recrutement de diplômés",
    "intervention": "Intervention en classe", "visite": "Visite d'entreprise", "jury": "Participation aux jurys",
    "materiel": "Don de matériel", "soutien": "Soutien (taxe d'apprentissage, mécénat)", "autre": "Autre",
}


class CatalogError(ValueError):
    """A user-facing problem with the query (message in French), on the query parameter ``field``."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def level_text(diploma: str, level: int | None) -> str:
    if diploma in LEVEL_TEXT:
        return LEVEL_TEXT[diploma]
    if diploma.startswith("CS"):
        return "certificat de spécialisation, 1 an après un diplôme"
    if diploma.startswith("MC"):
        return LEVEL_TEXT["MC"]
    return f"niveau {level}" if level else "niveau non renseigné"


def naf_division(naf: str | None) -> str | None:
    if naf is None or not naf.strip():
        return None
    match = NAF_RE.match(naf)
    if not match:
        raise CatalogError("Code NAF invalide : indiquez par exemple 10.71C, 1071C ou la division 10.", "naf")
    return match.group(1)


def resolve_place(communes: CommuneIndex, place: str | None, insee: str | None) -> Commune | None:
    place = (place or "").strip()
    insee = (insee or "").strip().upper()
    if insee:
        commune = communes.by_insee.get(insee)
        if commune is None:
            raise CatalogError(f"Code commune INSEE inconnu : {insee}.", "code_insee")
    elif not place:
        return None
    elif re.fullmatch(r"\d{5}", place):
        commune = communes.resolve(postal_code=place) or communes.by_insee.get(place)
        if commune is None:
            near = ", ".join(communes.nearest_postal_codes(place))
            raise CatalogError(f"Code postal inconnu : {place}." + (f" Codes proches : {near}." if near else ""), "lieu")
    else:
        found = communes.suggest(place, limit=1)
        if not found:
            raise CatalogError(f"Commune introuvable : « {place[:60]} ». Essayez le code postal.", "lieu")
        commune = found[0]
    if commune.latitude is None:
        raise CatalogError(f"La commune {commune.name} n'a pas de coordonnées connues : recherche par distance impossible.",
                           "code_insee" if insee else "lieu")
    return commune


def _job_out(j: JobSense) -> UnderstoodJob:
    return UnderstoodJob(rome=j.rome, label=j.label, score=round(j.score, 3), via=j.via, taught=j.taught)


def understanding_out(u: Understanding, limit: int = 10, taught: Mapping[str, int] | None = None) -> JobUnderstanding:
    """``taught``: CFD -> how many located lycées teach it. A diploma no lycée teaches (a BTS of the same
    trade, a closed CAP) comes after those a company can find a lycée for, whatever its weight."""
    taught = taught or {}
    formations = sorted(u.formations.values(),
                        key=lambda f: (taught.get(f.cfd, 0) == 0, -f.weight, f.label))[:limit]
    return JobUnderstanding(
        text=u.text, status=u.status, message=u.message, correction=u.correction, diploma=u.diploma,
        jobs=[_job_out(j) for j in u.jobs], alternatives=[_job_out(j) for j in u.alternatives],
        formations=[UnderstoodFormation(cfd=f.cfd, label=f.label, weight=round(f.weight, 3), why=f.why,
                                        common_first_year=f.common_first_year, lycees=taught.get(f.cfd, 0))
                    for f in formations],
    )


def commune_out(c: Commune) -> CommuneSuggestion:
    return CommuneSuggestion(insee=c.insee, name=c.name, postal_code=c.postal_code, departement=c.departement,
                             label=c.label, latitude=c.latitude, longitude=c.longitude)


def _brief(model: ReadModel, offer: MergedOffer) -> FormationBrief | None:
    f = model.formations.get(offer.cfd)
    if f is None:
        return None
    return FormationBrief(cfd=f.cfd, label=f.label, diploma=f.diploma, level=f.level, level_text=level_text(f.diploma, f.level),
                          tracks=sorted(offer.tracks), last_seen_year=offer.last_seen_year, derived_from=offer.derived_from)


def formations_of(model: ReadModel, uai: str, only: set[str] | None = None) -> list[FormationBrief]:
    offers = model.offers.get(uai, {})
    out = []
    for cfd, offer in offers.items():
        f = model.formations.get(cfd)
        if (only is not None and cfd not in only) or f is None:
            continue
        if f.closed and (only is None or any(c in offers for c in f.successor_cfds.split(";") if c)):
            continue  # shown through its successor, or no longer taught
        brief = _brief(model, offer)
        if brief:
            out.append(brief)
    out.sort(key=lambda b: (b.level or 0, b.diploma, b.label))
    return out


def search_lycees(index: SearchIndex, communes: CommuneIndex, *, job: str | None = None, text: str | None = None,
                  naf: str | None = None, place: str | None = None, insee: str | None = None,
                  radius_km: float | None = None, academie: str | None = None, need: str | None = None,
                  track: str | None = None, page: int = 1, per_page: int = 20, profile_base: str = "",
                  period: str | None = None, today: date | None = None) -> LyceeSearchPage:
    if need and need not in NEED_TYPES:
        raise CatalogError("Type de besoin inconnu : " + need[:40] + ". Valeurs possibles : " + ", ".join(NEED_TYPES) + ".", "besoin")
    commune = resolve_place(communes, place, insee)
    query = SearchQuery(
        job=(job or "").strip() or None, text=(text or "").strip() or None, naf_division=naf_division(naf),
        origin=(commune.latitude, commune.longitude)
        if commune and commune.latitude is not None and commune.longitude is not None else None,
        origin_territory=territory_of(commune.departement) if commune else None,
        radius_km=(radius_km if radius_km is not None else 30.0) if commune else None,
        academie=(academie or "").strip() or None, need=need or None, track=track or None,
        period=(period or "").strip() or None, today=today,
    )
    start = (page - 1) * per_page
    total, hits = index.search(query, limit=start + per_page)
    model = index.model
    results = []
    for hit in hits[start : start + per_page]:
        lyc = model.lycees[hit.uai]
        only = set(hit.cfds) if (query.job or query.naf_division or query.text) and hit.cfds else None
        formations = []
        seen = set()
        for member in hit.uais:
            for brief in formations_of(model, member, only):
                if brief.cfd not in seen:
                    seen.add(brief.cfd)
                    formations.append(brief)
        if only:
            order = {cfd: i for i, cfd in enumerate(hit.cfds)}
            formations.sort(key=lambda b: order.get(b.cfd, len(order)))
        results.append(LyceeResult(
            uai=lyc.uai, uais=hit.uais, name=lyc.name, type_court=lyc.type_court, secteur=lyc.secteur,
            private_hors_contrat=lyc.private_hors_contrat, bts_only=lyc.bts_only, commune=lyc.commune,
            postal_code=lyc.postal_code or None, departement=lyc.departement_code, academie=lyc.academie,
            distance_km=hit.distance_km, relevance=hit.relevance, formations=formations,
            profile_url=f"{profile_base}/lycees/{lyc.uai}" + (f"?{urlencode({'metier': query.job})}" if query.job else ""),
            highlights=hit.highlights,
        ))
    return LyceeSearchPage(total=total, page=page, per_page=per_page, place=commune_out(commune) if commune else None,
                           radius_km=query.radius_km, results=results)


def job_domains(model: ReadModel, cfds: list[str], titles_per_job: int = 4) -> list[DomainGroup]:
    """Jobs a lycée trains for, in company vocabulary, grouped by ROME domain."""
    titles_by_rome: dict[str, list[str]] = defaultdict(list)
    for t in model.job_titles:
        job = model.jobs.get(t.rome)
        if job is not None and t.label == job.label:
            continue
        if t.source == "appellation" and len(titles_by_rome[t.rome]) < titles_per_job:
            titles_by_rome[t.rome].append(t.label)
    by_domain: dict[str, dict[str, JobGroup]] = defaultdict(dict)
    for cfd in cfds:
        for rome in model.formation_romes.get(cfd, [])[:3]:
            job = model.jobs.get(rome)
            if job is None:
                continue
            by_domain[job.domain or job.grand_domain or "Autres métiers"].setdefault(
                rome, JobGroup(rome=rome, rome_label=job.label, common_titles=titles_by_rome.get(rome, [])))
    return [DomainGroup(domain=d, jobs=sorted(jobs.values(), key=lambda j: j.rome_label))
            for d, jobs in sorted(by_domain.items())]


def contact_url(intake_url: str, uai: str, domains: list[DomainGroup], limit: int = 5,
                searched_job: str | None = None) -> str:
    """The form, pre-filled with the job the company searched (else the lycée's first jobs)."""
    titles = [searched_job] if searched_job else [j.rome_label for d in domains for j in d.jobs][:limit]
    return f"{intake_url}/demande?" + urlencode([("uai", uai), *[("metiers", t) for t in titles]])


def _rich_parts(model: ReadModel, uai: str, today: date) -> dict:
    """The parts the RBE wrote (issue 22); each one empty when not filled."""
    settings = model.settings.get(uai)
    extras = model.extras.get(uai)
    out: dict = {}
    if settings is not None:
        out.update(pitch_origin=settings.pitch_origin if settings.pitch else "", platforms=lines(settings.platforms),
                   label_lycee_metiers=settings.label_lycee_metiers, label_cmq=settings.label_cmq,
                   networks=lines(settings.networks))
    if extras is not None:
        labels = {cfd: f"{f.diploma} {f.label}" for cfd, f in model.formations.items() if cfd in model.offers.get(uai, {})}
        out["pfmp"] = [PfmpClassOut(classe=p.classe, label=class_label(p.classe), cfd=p.cfd,
                                    formation=labels.get(p.cfd or "") if p.cfd else None, dates=p.dates,
                                    period=(Period.from_code(p.ranges) or Period(())).french(), ranges=p.ranges)
                       for p in extras.pfmp]
        out["partners"] = list(extras.partners)
        out["events"] = [EventOut(kind=e.kind, kind_label=EVENT_KINDS.get(e.kind, "Événement"), title=e.title,
                                  starts_on=e.starts_on, ends_on=e.ends_on, when=event_when(e), details=e.details)
                         for e in extras.upcoming(today)]
        if extras.image is not None:
            kind, digest, width, height = extras.image
            out.update(image_url=f"/lycees/{uai}/image?v={digest}", image_kind=kind, image_width=width,
                       image_height=height)
    return out


def build_profile(model: ReadModel, uai: str, insertion_rows: list, intake_url: str,
                  searched_job: str | None = None, today: date | None = None) -> LyceeProfile | None:
    lyc = model.lycees.get(uai)
    if lyc is None:
        return None
    formations = formations_of(model, uai)
    domains = job_domains(model, [f.cfd for f in formations])
    figures = [InsertionFigure(millesime=r.millesime, population=r.population, employment_rate_6m=r.employment_rate_6m,
                               expected_employment_rate_6m=r.expected_employment_rate_6m, added_value=r.added_value,
                               further_studies_rate=r.further_studies_rate) for r in insertion_rows]
    latest = max((f.millesime for f in figures), default=None)
    settings = model.settings.get(uai)
    contact = model.contacts.get(uai)
    return LyceeProfile(
        uai=lyc.uai, name=lyc.name, type_court=lyc.type_court, secteur=lyc.secteur,
        private_hors_contrat=lyc.private_hors_contrat, bts_only=lyc.bts_only, address=lyc.address,
        postal_code=lyc.postal_code, commune=lyc.commune, departement=lyc.departement, academie=lyc.academie,
        region=lyc.region, telephone=lyc.telephone, web=lyc.web, fiche_onisep=lyc.fiche_onisep, parent_uai=lyc.parent_uai,
        formations_uai=lyc.formations_uai, formations=formations, domains=domains,
        insertion=sorted([f for f in figures if f.millesime == latest], key=lambda f: f.population), insertion_year=latest,
        pitch=settings.pitch if settings else "",
        services=[s for s in settings.services.split(";") if s] if settings and settings.services else [],
        pfmp_periods=settings.pfmp_periods if settings else "",
        monthly_capacity=settings.monthly_capacity if settings else None,
        contact=ContactInfo(email=contact.email, name=contact.name, is_generic=contact.is_generic,
                            deputy_email=contact.deputy_email, absent_from=contact.absent_from,
                            absent_until=contact.absent_until) if contact else None,
        contact_url=contact_url(intake_url, uai, domains, searched_job=searched_job),
        **_rich_parts(model, uai, today or date.today()),
    )
