"""The catalog as read by the snapshot and the search index: lycées with merged offers.

Merging rules (data pitfalls):
* a SEP / annexe without its own rows carries the offer of ``formations_uai`` (its mother lycée);
* a "2nde commune" (tronc commun) code of a BCN family expands to the family's open specialities
  when the lycée lists none of them;
* a closed formation with successors (``remplace_par_cfd``) also yields its open successors.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Set
from dataclasses import dataclass, field, replace
from datetime import date

from sqlmodel import Session

from services.catalog import naming_repository as naming_repo
from services.catalog import repository as repo
from services.catalog.models import (
    Formation,
    FormationGroupLink,
    Job,
    Lycee,
    LyceeSettings,
    Rbe,
    RbeCoverage,
    RbeNomination,
)
from services.catalog.service.profile import LyceeExtras, load_extras
from services.catalog.service.rows import detached
from shared.reference.jobs.vocabulary import CompactVocabulary, JobVocabulary, compact_vocabulary


@dataclass(slots=True)
class MergedOffer:
    cfd: str
    tracks: frozenset[str] = frozenset()
    last_seen_year: int | None = None
    derived_from: str | None = None  # "parent", "famille", "successeur" when not listed directly


@dataclass
class Contact:
    email: str
    name: str | None
    is_generic: bool
    deputy_email: str | None = None
    absent_from: date | None = None
    absent_until: date | None = None
    # The lycée's other confirmed RBEs, (email, name), first confirmed first (issue 22): copied on its requests.
    additional: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ReadModel:
    version: str
    lycees: dict[str, Lycee]
    offers: dict[str, dict[str, MergedOffer]]  # uai -> cfd -> offer
    formations: dict[str, Formation]
    formation_romes: dict[str, list[str]]  # cfd -> ROME codes by rank
    keywords: dict[str, list[tuple[str, float]]]
    jobs: dict[str, Job]
    job_titles: list  # rows with .label, .rome, .source (JobTitle columns)
    naf_division_romes: dict[str, list[str]]
    settings: dict[str, LyceeSettings]
    contacts: dict[str, Contact]  # uai -> contact (absent: no address known)
    academie_fallbacks: dict[str, str]
    # Slotted copies (shared.reference.jobs.vocabulary), the very objects the search index's resolver keeps.
    vocabulary: CompactVocabulary | JobVocabulary = field(default_factory=lambda: compact_vocabulary(JobVocabulary()))
    extras: dict[str, LyceeExtras] = field(default_factory=dict)  # the richer profile, per uai (issue 22)


def _merge(target: dict[str, MergedOffer], cfd: str, tracks: Set[str], year: int | None, how: str | None) -> None:
    offer = target.get(cfd)
    if offer is None:
        target[cfd] = MergedOffer(cfd=cfd, tracks=frozenset(tracks), last_seen_year=year, derived_from=how)
        return
    if not tracks <= offer.tracks:
        offer.tracks = offer.tracks | tracks
    if year is not None and (offer.last_seen_year is None or year > offer.last_seen_year):
        offer.last_seen_year = year
    if how is None:
        offer.derived_from = None


def merged_offers(
    lycees: dict[str, Lycee], rows: list[tuple[str, str, str, int | None]], formations: dict[str, Formation],
    groups: list[FormationGroupLink],
) -> dict[str, dict[str, MergedOffer]]:
    own: dict[str, dict[str, MergedOffer]] = defaultdict(dict)
    for uai, cfd, track, year in rows:
        _merge(own[uai], sys.intern(cfd), {track}, year, None)
    common_to_specialities: dict[str, list[str]] = defaultdict(list)
    group_of_common: dict[str, list[str]] = defaultdict(list)
    members: dict[str, set[str]] = defaultdict(set)
    for link in groups:
        members[link.group_code].add(link.cfd)
    for link in groups:
        if link.role == "tronc_commun":
            group_of_common[link.cfd].append(link.group_code)
            for cfd in members[link.group_code]:
                f = formations.get(cfd)
                if cfd != link.cfd and f is not None and not f.closed:
                    common_to_specialities[link.cfd].append(cfd)
    successors: dict[str, list[str]] = {}
    for cfd, f in formations.items():
        if f.closed and f.successor_cfds:
            open_ones = [c for c in f.successor_cfds.split(";") if c in formations and not formations[c].closed]
            if open_ones:
                successors[cfd] = open_ones
    result: dict[str, dict[str, MergedOffer]] = {}
    track_sets: dict[frozenset[str], frozenset[str]] = {}
    for uai, lycee in lycees.items():
        merged: dict[str, MergedOffer] = {}
        for cfd, offer in own.get(uai, {}).items():
            _merge(merged, cfd, offer.tracks, offer.last_seen_year, None)
        carrier = lycee.formations_uai
        if carrier and carrier != uai:
            for cfd, offer in own.get(carrier, {}).items():
                _merge(merged, cfd, offer.tracks, offer.last_seen_year, "parent")
        for cfd in [c for c in merged if c in common_to_specialities]:
            offer, specialities = merged[cfd], common_to_specialities[cfd]
            if not any(c in merged for g in group_of_common[cfd] for c in members[g] if c != cfd):
                for spec in specialities:
                    _merge(merged, spec, offer.tracks, offer.last_seen_year, "famille")
        for cfd in [c for c in merged if c in successors]:
            offer = merged[cfd]
            for successor in successors[cfd]:
                if successor not in merged:
                    _merge(merged, successor, offer.tracks, offer.last_seen_year, "successeur")
        for offer in merged.values():  # 55,000 offers, a handful of distinct sets of tracks: one object each
            offer.tracks = track_sets.setdefault(offer.tracks, offer.tracks)
        result[uai] = merged
    return result


def load_read_model(session: Session, fallback_email: str | None = None) -> ReadModel:
    strings: dict[str, str] = {}  # kept rows are plain copies (service.rows): their repeated values shared
    lycees = {row.uai: row for row in detached(repo.all_rows(session, Lycee), Lycee, strings)}
    formations = {row.cfd: row for row in detached(repo.all_rows(session, Formation), Formation, strings)}
    offer_rows = repo.offer_rows(session)
    groups = repo.all_rows(session, FormationGroupLink)
    formation_romes: dict[str, list[str]] = defaultdict(list)
    for cfd, rome, _rank in sorted(repo.formation_job_rows(session), key=lambda r: (r[0], r[2])):
        if rome not in formation_romes[cfd]:
            formation_romes[cfd].append(strings.setdefault(rome, rome))
    keywords: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for cfd, word, score in repo.formation_keyword_rows(session):
        keywords[cfd].append((strings.setdefault(word, word), score))  # a word is the keyword of many formations
    naf: dict[str, list[str]] = defaultdict(list)
    for division, rome in repo.naf_division_job_rows(session):
        if rome not in naf[division]:
            naf[division].append(strings.setdefault(rome, rome))
    contacts, settings, fallbacks = load_directory(session, lycees, fallback_email)
    return ReadModel(
        version=repo.get_meta(session, "version") or "vide",
        lycees=lycees,
        offers=merged_offers(lycees, offer_rows, formations, groups),
        formations=formations,
        formation_romes=dict(formation_romes),
        keywords=dict(keywords),
        jobs={row.rome: row for row in detached(repo.all_rows(session, Job), Job, strings)},
        job_titles=repo.job_title_rows(session),
        naf_division_romes=dict(naf),
        settings=settings,
        contacts=contacts,
        academie_fallbacks=fallbacks,
        vocabulary=compact_vocabulary(repo.get_vocabulary(session)),
        extras=load_extras(session),
    )


def load_directory(
    session: Session, lycees: dict[str, Lycee], fallback_email: str | None
) -> tuple[dict[str, Contact], dict[str, LyceeSettings], dict[str, str]]:
    """The part of the read model that RBE edits and imports change: contacts, settings, fallbacks."""
    rbes = {row.email: row for row in repo.all_rows(session, Rbe)}
    contacts: dict[str, Contact] = {}
    for cov in repo.all_rows(session, RbeCoverage):
        rbe = rbes.get(cov.rbe_email)
        if rbe is not None:
            contacts[cov.uai] = Contact(rbe.email, rbe.name, rbe.is_generic, rbe.deputy_email, rbe.absent_from, rbe.absent_until)
    _add_confirmed_names(contacts, naming_repo.confirmed_nominations(session))
    fallbacks = repo.academie_fallbacks(session)
    for referent in reversed(repo.referents(session)):  # an académie's referent replaces its generic contact
        fallbacks[referent.academie] = referent.email
    if fallback_email:
        for uai, lycee in lycees.items():
            if uai not in contacts:
                contacts[uai] = Contact(fallbacks.get(lycee.academie, fallback_email), None, True)
    settings = {row.uai: row for row in repo.all_rows(session, LyceeSettings)}
    return contacts, settings, fallbacks


def _add_confirmed_names(contacts: dict[str, Contact], confirmed: list[RbeNomination]) -> None:
    """A lycée's additional RBEs: the others confirmed in the naming its contact was confirmed in. A lycée whose
    contact came another way (generic address, an académie's list imported as confirmed) has none: a replaced
    naming's RBEs never receive new requests, even before their nominations are marked replaced."""
    by_uai: dict[str, list[RbeNomination]] = defaultdict(list)
    for row in confirmed:  # ordered by confirmation, then id
        by_uai[row.uai].append(row)
    for uai, rows in by_uai.items():
        contact = contacts.get(uai)
        if contact is None or contact.is_generic:
            continue
        own = contact.email.lower()
        batches = {row.batch for row in rows if row.email.lower() == own}
        listed = {own}
        for row in rows:
            if row.batch in batches and row.email.lower() not in listed:
                listed.add(row.email.lower())
                contact.additional.append((row.email, row.name))


def with_directory(model: ReadModel, session: Session, fallback_email: str | None) -> ReadModel:
    """A new read model sharing the (unchanged) reference data, with fresh directory data."""
    contacts, settings, fallbacks = load_directory(session, model.lycees, fallback_email)
    return replace(model, version=repo.get_meta(session, "version") or "vide", contacts=contacts, settings=settings,
                   academie_fallbacks=fallbacks, extras=load_extras(session))
