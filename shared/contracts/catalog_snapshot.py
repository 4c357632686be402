"""Contract of the catalog's snapshot API (``GET /api/v1/snapshot``), from which the matcher
builds its in-memory read model. Defined once here; the catalog serves it, the matcher reads it,
and refreshes on ``CatalogChanged`` events. The matcher never reads the catalog's tables.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.reference.jobs.vocabulary import (
    JobVocabulary,
    TitleKind,
    VocabularyFormation,
    VocabularyJob,
    VocabularyTitle,
)

Track = Literal["scolaire", "apprentissage"]


class SnapshotOffer(BaseModel):
    """One formation a lycée teaches (SEP offers already merged from the parent lycée)."""

    cfd: str
    tracks: list[Track]
    last_seen_year: int | None = None
    derived_from: str | None = None  # "famille": inferred from the lycée's "2nde commune", not listed


class SnapshotPfmpPeriod(BaseModel):
    """When one class of the lycée is in PFMP, written by its RBE (issue 22)."""

    classe: str  # a code of shared.reference.periods.PFMP_CLASSES: 2de, 1re, tle, cap1…
    cfd: str | None = None  # one formation, or the whole class
    dates: str  # as the RBE typed them
    ranges: str  # shared.reference.periods.Period.code(): « 03-02/03-27 »; years are ignored


class SnapshotEvent(BaseModel):
    """A dated event open to companies (job dating, portes ouvertes, forum, jury)."""

    kind: str
    title: str
    starts_on: date
    ends_on: date | None = None


class SnapshotRbe(BaseModel):
    """An additional confirmed RBE of a lycée (issue 22): copied on every request routed to it."""

    email: str
    name: str | None = None


class SnapshotLycee(BaseModel):
    uai: str
    name: str
    type_court: str  # LP, SEP, LPO, LGT…
    secteur: Literal["public", "prive"]
    private_hors_contrat: bool = False
    bts_only: bool = False  # general lycée that only hosts BTS sections
    parent_uai: str | None = None  # SEP / annexe -> mother lycée
    formations_uai: str | None = None  # uai_porteur_formations: whose offer this UAI carries
    commune: str
    commune_insee: str | None = None
    postal_code: str | None = None
    departement: str
    academie: str
    academie_code: str | None = None
    region: str | None = None
    territory: str  # shared.reference.geo.territory_of(departement)
    latitude: float | None = None
    longitude: float | None = None
    offers: list[SnapshotOffer] = []
    apprenticeship_capable: bool = False
    services: list[str] = []  # NeedType values the lycée says it welcomes
    monthly_capacity: int | None = None  # max requests routed to it per month; None = no limit
    # Contact: the RBE covering this UAI, or the school's generic address (is_generic_contact=True)
    rbe_id: str  # stable id grouping UAIs covered by the same person (email lower-cased)
    rbe_email: str
    rbe_name: str | None = None
    is_generic_contact: bool = True
    deputy_email: str | None = None
    absent_from: date | None = None
    absent_until: date | None = None
    # The lycée's other confirmed RBEs (same naming as the contact, first confirmed first): copied on each
    # request routed to the lycée, in the same thread. Empty in older snapshots.
    additional_rbes: list[SnapshotRbe] = []
    # The RBE's words (issue 22): empty in older snapshots.
    pfmp_periods: list[SnapshotPfmpPeriod] = []
    events: list[SnapshotEvent] = []  # upcoming ones


class SnapshotFormation(BaseModel):
    cfd: str
    label: str  # company-readable title ("Boulanger", "Métiers de l'électricité…")
    diploma: str  # CAP, BAC PRO, BTS…
    level: int | None = None  # niveau européen
    rome_codes: list[str] = []
    successor_cfds: list[str] = []
    closed: bool = False


class SnapshotJobTitle(BaseModel):
    """A job title as companies write it (ROME appellation, ROME label or ONISEP name)."""

    label: str
    rome: str
    source: Literal["appellation", "rome", "onisep"]


class CatalogSnapshot(BaseModel):
    # Parsing 12 MB of JSON must leave nothing behind once the reader is done with it: pydantic's cache of
    # parsed strings (16,384 of them, kept by the parser) would hold a few strings in most of the memory
    # arenas the parse used, and none of them could be given back (issue 18: memory at rest).
    model_config = ConfigDict(cache_strings=False)

    generated_at: datetime
    version: str  # changes whenever the catalog data changes
    lycees: list[SnapshotLycee]
    formations: list[SnapshotFormation]
    job_titles: list[SnapshotJobTitle]
    rome_labels: dict[str, str]  # ROME code -> label
    naf_division_romes: dict[str, list[str]]  # "10" -> typical ROME codes of that sector
    academie_fallbacks: dict[str, str] = {}  # académie name -> fallback contact email
    # Everything the open data says about jobs and diplomas: the one job resolver is built from it
    # (shared.reference.jobs). Empty in old snapshots: the resolver then falls back to the fields above.
    vocabulary: JobVocabulary = JobVocabulary()

    def job_vocabulary(self) -> JobVocabulary:
        """The shipped vocabulary, or one made of the older fields (titles, labels, formations' ROME codes)
        when a catalog did not ship it: the resolver then works, with less to go on."""
        if self.vocabulary.jobs:
            return self.vocabulary
        jobs = [VocabularyJob(rome=code, label=label, parent=code) for code, label in sorted(self.rome_labels.items())]
        kinds: dict[str, TitleKind] = {"appellation": "synonyme", "rome": "rome", "onisep": "onisep"}
        titles = [VocabularyTitle(label=label, rome=code, kind="rome") for code, label in self.rome_labels.items()]
        titles += [VocabularyTitle(label=t.label, rome=t.rome, kind=kinds[t.source]) for t in self.job_titles
                   if t.rome in self.rome_labels]
        formations = [VocabularyFormation(cfd=f.cfd, label=f.label, diploma=f.diploma, level=f.level, closed=f.closed,
                                          romes=list(f.rome_codes), successors=list(f.successor_cfds))
                      for f in self.formations]
        return JobVocabulary(jobs=jobs, titles=titles, formations=formations, naf_division_romes=self.naf_division_romes)


_GENERATED_AT = b'{"generated_at":"'


def etag_of(body: bytes) -> str:
    """The snapshot API's ETag for a serialized snapshot. The matcher computes it on the bytes it
    cached and sends it as ``If-None-Match``: an unchanged snapshot is answered 304 and is neither
    sent, parsed nor rebuilt (each rebuild costs the matcher seconds of CPU and ~50 MiB of resident
    memory).

    It hashes the content, not the moment the snapshot was built: ``generated_at`` (the first member,
    as ``CatalogSnapshot`` declares it) is left out, or every restart of the catalog, which builds the
    snapshot again, would make every matcher parse and rebuild the same content. A weak validator in
    HTTP's terms (equal content, not equal bytes), hence ``W/``."""
    digest = hashlib.sha256()
    if body.startswith(_GENERATED_AT):
        end = body.find(b'",', len(_GENERATED_AT))
        if end > 0:
            digest.update(b"{")
            digest.update(memoryview(body)[end + 2:])
            return 'W/"' + digest.hexdigest()[:32] + '"'
    digest.update(body)
    return 'W/"' + digest.hexdigest()[:32] + '"'
