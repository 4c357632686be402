"""Contract of the job vocabulary: everything the open data says about jobs and the diplomas that
train for them. The catalog builds it from ``data/`` and ships it in its snapshot; the catalog's own
search and the matcher both build one ``JobResolver`` from it, so a job typed by a company means the
same thing on the search page, in the form and in routing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

TitleKind = Literal["principale", "synonyme", "rome", "onisep", "certif"]


class VocabularyJob(BaseModel):
    """A ROME v4 fiche. ``parent`` is the older, coarser fiche it was split from (itself when none)."""

    rome: str
    label: str
    parent: str
    domain: str = ""  # ROME domaine professionnel code, e.g. "D11"
    domain_label: str = ""  # « Commerce alimentaire et métiers de bouche »
    grand_domain: str = ""  # « Commerce, Vente et Grande distribution »
    executive: bool = False  # emploi cadre: rarely what a lycée's pupils are trained for


class VocabularyTitle(BaseModel):
    """One way to write a job: a ROME appellation (principale / synonyme), a fiche's label, or an
    ONISEP job name (``onisep`` = its MET id, whose own diploma links then apply)."""

    label: str
    rome: str | None = None
    kind: TitleKind
    onisep: str | None = None


class VocabularyOnisepJob(BaseModel):
    """An ONISEP job sheet: its ROME (v3, parent-level) codes, the diplomas ONISEP links to it, and the
    minimum access level (3 = CAP … 8), which tells whether a lycée trains for it at all."""

    id: str
    name: str
    romes: list[str] = []
    cfds: list[str] = []
    min_level: int | None = None


class VocabularyFormation(BaseModel):
    """A diploma as the job vocabulary sees it. ``romes`` come from Certif Info, best rank first."""

    cfd: str
    label: str
    diploma: str
    level: int | None = None
    closed: bool = False
    common_first_year: bool = False  # a "2nde commune": the first year of a family of bac pro
    romes: list[str] = []
    successors: list[str] = []
    keywords: list[str] = []  # formation_mots_clefs, most relevant first


class VocabularyAbbreviation(BaseModel):
    """A sigle companies and schools use (« MELEC », « AEPE », « SPL ») and what it stands for."""

    abbreviation: str
    expansion: str
    # A clipping of a word (« cuisto », « placiste », « mécano »), not a sigle: it names a job, never a diploma.
    clipping: bool = False


class JobVocabulary(BaseModel):
    jobs: list[VocabularyJob] = []
    titles: list[VocabularyTitle] = []
    onisep_jobs: list[VocabularyOnisepJob] = []
    formations: list[VocabularyFormation] = []
    abbreviations: list[VocabularyAbbreviation] = []
    naf_division_romes: dict[str, list[str]] = {}
    # Professional titles' names (kind "certif"), apart from ``titles``: they name a job only where no ROME
    # or ONISEP title names the text as well, and never weigh in the words of the job's own titles.
    certification_titles: list[VocabularyTitle] = []


# The resolver keeps tens of thousands of these objects for as long as a snapshot is current. As pydantic
# models each costs ~600 bytes (its __dict__ and the set of fields it was given); these plain slotted copies,
# with the same attributes and the same lists, ~100 (issue 18: memory at rest).


@dataclass(slots=True)
class CompactJob:
    rome: str
    label: str
    parent: str
    domain: str
    domain_label: str
    grand_domain: str
    executive: bool


@dataclass(slots=True)
class CompactTitle:
    label: str
    rome: str | None
    kind: TitleKind
    onisep: str | None


@dataclass(slots=True)
class CompactOnisepJob:
    id: str
    name: str
    romes: list[str]
    cfds: list[str]
    min_level: int | None


@dataclass(slots=True)
class CompactFormation:
    cfd: str
    label: str
    diploma: str
    level: int | None
    closed: bool
    common_first_year: bool
    romes: list[str]
    successors: list[str]
    keywords: list[str]


@dataclass(slots=True)
class CompactAbbreviation:
    abbreviation: str
    expansion: str
    clipping: bool = False


@dataclass(slots=True)
class CompactVocabulary:
    """A ``JobVocabulary`` as the resolver keeps it: the same content in slotted objects."""

    jobs: list[CompactJob]
    titles: list[CompactTitle]
    onisep_jobs: list[CompactOnisepJob]
    formations: list[CompactFormation]
    abbreviations: list[CompactAbbreviation]
    naf_division_romes: dict[str, list[str]]
    certification_titles: list[CompactTitle] = field(default_factory=list)


def compact_vocabulary(vocabulary: JobVocabulary | CompactVocabulary) -> CompactVocabulary:
    """Slotted copies of the vocabulary's entries; the codes and words that repeat across entries (ROME and
    formation codes, domains, diplomas, keywords: ~40,000 strings) one object each, as the parser gives
    one per occurrence."""
    if isinstance(vocabulary, CompactVocabulary):
        return vocabulary
    pool: dict[str, str] = {}
    one = pool.setdefault

    def some(value: str | None) -> str | None:
        return None if value is None else one(value, value)

    def each(values: list[str]) -> list[str]:
        return [one(v, v) for v in values]

    return CompactVocabulary(
        jobs=[CompactJob(one(j.rome, j.rome), j.label, one(j.parent, j.parent), one(j.domain, j.domain),
                         one(j.domain_label, j.domain_label), one(j.grand_domain, j.grand_domain), j.executive)
              for j in vocabulary.jobs],
        titles=[CompactTitle(t.label, some(t.rome), t.kind, some(t.onisep)) for t in vocabulary.titles],
        onisep_jobs=[CompactOnisepJob(one(m.id, m.id), m.name, each(m.romes), each(m.cfds), m.min_level)
                     for m in vocabulary.onisep_jobs],
        formations=[CompactFormation(one(f.cfd, f.cfd), f.label, one(f.diploma, f.diploma), f.level, f.closed,
                                     f.common_first_year, each(f.romes), each(f.successors), each(f.keywords))
                    for f in vocabulary.formations],
        abbreviations=[CompactAbbreviation(a.abbreviation, a.expansion, a.clipping) for a in vocabulary.abbreviations],
        naf_division_romes={one(k, k): each(v) for k, v in vocabulary.naf_division_romes.items()},
        certification_titles=[CompactTitle(t.label, some(t.rome), t.kind, None) for t in vocabulary.certification_titles],
    )
