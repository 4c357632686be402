"""Which formations train for a job, from two independent sources, and how they are settled.

* Certif Info (``VocabularyFormation.romes``): a formation's ROME codes, rank 1 first. Weighted by rank.
* ONISEP (``VocabularyOnisepJob.cfds``): the national guidance body's own job ↔ diploma links, attached to
  the ROME codes ONISEP gives its job and to any fiche of the same domain one of whose titles is the
  ONISEP job's name word for word (ROME 4 child fiches: « plâtrier plaquiste » is F1604's as well as F1601's).

Settlement, per job (docs/job-vocabulary.md):
* both sources name the formation: full weight;
* only ONISEP names it: 0.85, × 0.6 unless the diploma's label shares a word with the job's titles;
* only Certif Info names it while ONISEP knows the job: kept at 0.75 × rank weight when the formation's
  label shares a meaningful word with the job's titles, else 0.25 (a CAPA « services aux personnes » is
  not a boulanger's diploma, whatever its rank);
* one source only knows the job: its links, as weighted.
A ROME 4 child fiche with no link of its own borrows its parent's links, only those whose label shares
a word with the child's titles (0.9), with, when the two fiches' labels share a word, those both sources
name (0.6); if none does but the labels share one, all of them (0.6); otherwise none: a split can put unrelated jobs under one old fiche. Siblings (same parent) are
next, with the same word check and only the links both sources name (0.5); last, the taught diplomas the other jobs of the same ROME domain name most (0.4).
Each step is taken only when the previous ones reach no formation a located lycée teaches. Successor and predecessor diplomas (a renovated diploma, same trade) inherit a link as it is.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from functools import lru_cache

from shared.reference.jobs.index import related_stems
from shared.reference.jobs.renovations import CHAIN, Renovations
from shared.reference.jobs.text import stems
from shared.reference.jobs.twins import role_twins
from shared.reference.jobs.vocabulary import CompactVocabulary

RANK_WEIGHT = {1: 1.0, 2: 0.85, 3: 0.75, 4: 0.65, 5: 0.6}
COMMON_FIRST_YEAR = 0.5
LYCEE_MAX_LEVEL = 5  # CAP (3) … BTS (5): what a lycée teaches
DOMAIN_WEIGHT = 0.4
STRONG = 0.5  # the routing floor: weaker links do not stop the search for better ones
TWIN = 0.8  # a link both sources name for the same trade under another role word (technicien / mécanicien)
CHILD_OWNED = 0.35  # under the domain fallback (0.4): a parent fiche's link that belongs to one of its child fiches
AGREED = 0.95  # a link both sources name and the diploma's words confirm
UNCONFIRMED = 0.6  # a link whose words share nothing with the job's (a code that changed meaning)
GENERIC_TITLE_SHARE = 0.01  # a word in more than 1 % of job titles says nothing about the trade
DOMAIN_WHY = "diplôme commun aux métiers du domaine"
_BOTH = re.compile(r"Certif Info \(rang \d+\) et ONISEP")  # the ``why`` of a link both sources name


def _both_sources(link: FormationLink) -> bool:
    return _BOTH.match(link.why) is not None


@dataclass(frozen=True, slots=True)
class FormationLink:
    cfd: str
    weight: float  # 0..1
    why: str  # French, shown in explanations: « Certif Info (rang 1) et ONISEP »
    common_first_year: bool = False
    label: str = ""

    def scaled(self, factor: float) -> FormationLink:
        return replace(self, weight=round(self.weight * factor, 4)) if factor != 1 else self


def merge_link(target: dict[str, FormationLink], link: FormationLink) -> None:
    """Adds a link to a job's formations, keeping the stronger of two links to one formation."""
    current = target.get(link.cfd)
    if current is None or link.weight > current.weight:
        target[link.cfd] = link


class JobLinks:
    def __init__(self, vocabulary: CompactVocabulary, taught_cfds: frozenset[str]) -> None:
        self.taught_cfds = taught_cfds
        self.formations = {f.cfd: f for f in vocabulary.formations}
        self.jobs = {j.rome: j for j in vocabulary.jobs}
        self.children: dict[str, list[str]] = defaultdict(list)
        self.by_domain: dict[str, list[str]] = defaultdict(list)
        for j in vocabulary.jobs:
            if j.domain:
                self.by_domain[j.domain].append(j.rome)
        for j in vocabulary.jobs:
            if j.parent and j.parent != j.rome:
                self.children[j.parent].append(j.rome)
        self.certif: dict[str, dict[str, int]] = defaultdict(dict)
        for f in vocabulary.formations:
            for rank, rome in enumerate(f.romes, start=1):
                self.certif[rome].setdefault(f.cfd, rank)
        self.onisep = {m.id: m for m in vocabulary.onisep_jobs}
        self.onisep_by_rome: dict[str, set[str]] = defaultdict(set)
        for m in vocabulary.onisep_jobs:
            for rome in m.romes:
                self.onisep_by_rome[rome].add(m.id)
        titles_by_rome: dict[str, list[str]] = defaultdict(list)
        for t in vocabulary.titles:
            if t.rome:
                titles_by_rome[t.rome].append(t.label)
                if t.onisep:
                    self.onisep_by_rome[t.rome].add(t.onisep)
        df: Counter[str] = Counter()
        for t in vocabulary.titles:
            df.update(set(stems(t.label)))
        generic_df = max(20, int(GENERIC_TITLE_SHARE * max(len(vocabulary.titles), 1)))
        self.generic = frozenset(s for s, n in df.items() if n > generic_df)
        self.job_words = {rome: self._meaningful([self.jobs[rome].label, *titles_by_rome.get(rome, [])])
                          for rome in self.jobs}
        principal: dict[str, list[str]] = defaultdict(list)
        for t in vocabulary.titles:
            if t.rome and t.kind == "principale":
                principal[t.rome].append(t.label)
        # A fiche's own words (label, main title): its synonyms may still be a child fiche's old titles.
        # Generic words included: « maintenance » says little about a trade, but it ties a bac pro
        # « maintenance des systèmes » to its « technicien de maintenance » fiche.
        self.own_words = {rome: frozenset(w for text in [self.jobs[rome].label, *principal.get(rome, [])]
                                          for w in stems(text) if len(w) > 2) for rome in self.jobs}
        met_words: dict[str, set[str]] = defaultdict(set)
        for m in vocabulary.onisep_jobs:
            for cfd in m.cfds:
                met_words[cfd] |= self._meaningful([m.name])
        self.onisep_words = {cfd: frozenset(ws) for cfd, ws in met_words.items()}
        met_romes: dict[str, set[str]] = defaultdict(set)
        for rome, mets in self.onisep_by_rome.items():
            for met in mets:
                if met in self.onisep:
                    met_romes[met].add(rome)
        romes_of_cfd: dict[str, set[str]] = defaultdict(set)
        for m in vocabulary.onisep_jobs:
            for cfd in m.cfds:
                romes_of_cfd[cfd] |= met_romes.get(m.id, set())
        self.onisep_formation_romes = {cfd: sorted(r) for cfd, r in romes_of_cfd.items()}
        # An ONISEP job named word for word like another fiche of its domain is that fiche's too: ONISEP
        # attaches its jobs to ROME v3 codes, and ROME 4 split many of them (« plâtrier plaquiste »,
        # MET.538, is filed under F1601 plâtrier; F1604 Plaquiste has the appellation « plâtrier-plaquiste »).
        for rome, mets in self._onisep_named_like(vocabulary, met_romes).items():
            self.onisep_by_rome[rome] |= mets
        self.twins = role_twins(vocabulary, self.generic)  # same trade, other role word
        self.renovations = Renovations(self.formations)
        self.for_rome = lru_cache(maxsize=None)(self._for_rome)
        self._settled = lru_cache(maxsize=None)(self._settled_uncached)
        self._direct = lru_cache(maxsize=None)(self._direct_uncached)
        self.formation_words = lru_cache(maxsize=None)(self._formation_words)
        self.is_taught = lru_cache(maxsize=None)(self._is_taught)
        self.higher_education_only = lru_cache(maxsize=None)(self._higher_education_only)

    def _onisep_named_like(self, vocabulary: CompactVocabulary, met_romes: dict[str, set[str]]) -> dict[str, set[str]]:
        """ROME code -> ONISEP jobs whose name has exactly the words of one of its titles (ROME label or
        appellation), attached by ONISEP to other fiches of the same ROME domain only."""
        by_words: dict[frozenset[str], set[str]] = defaultdict(set)
        for t in vocabulary.titles:
            if t.rome and t.kind != "onisep":
                by_words[frozenset(stems(t.label))].add(t.rome)
        out: dict[str, set[str]] = defaultdict(set)
        for m in vocabulary.onisep_jobs:
            own = met_romes.get(m.id, set()) | set(m.romes)
            domains = {self.jobs[r].domain for r in own if r in self.jobs}
            key = frozenset(stems(m.name))
            for rome in by_words.get(key, ()) if key else ():
                if rome not in own and rome in self.jobs and self.jobs[rome].domain in domains:
                    out[rome].add(m.id)
        return out

    # ------------------------------------------------------------------ words
    def _meaningful(self, texts: list[str]) -> frozenset[str]:
        return frozenset(s for text in texts for s in stems(text) if s not in self.generic and len(s) > 2)

    @staticmethod
    def _share(a: frozenset[str], b: frozenset[str]) -> bool:
        if a & b:
            return True
        heads = {x[:5] for x in a if len(x) >= 5}
        return any(y[:5] in heads and any(related_stems(x, y) for x in a if x[:5] == y[:5]) for y in b if len(y) >= 5)

    def confirmed(self, rome: str, cfd: str) -> bool:
        """The formation's label, or the name of an ONISEP job it leads to, shares a word with the job's
        titles: the link still means what it says (ROME codes changed meaning between versions)."""
        words = self.job_words.get(rome, frozenset())
        return self._share(words, self.formation_words(cfd)) or self._share(words, self.onisep_words.get(cfd, frozenset()))

    def _formation_words(self, cfd: str) -> frozenset[str]:
        f = self.formations.get(cfd)
        return self._meaningful([f.label]) if f else frozenset()

    def onisep_romes_of(self, cfd: str) -> list[str]:
        """ROME codes of the ONISEP jobs a diploma leads to (v4 codes through ONISEP's job names)."""
        return self.onisep_formation_romes.get(cfd, [])

    def formation_label(self, cfd: str) -> str:
        f = self.formations.get(cfd)
        if f is None:
            return cfd
        return f.label if f.label.upper().startswith(f.diploma.upper()) or not f.diploma else f"{f.diploma} {f.label}"

    def parent(self, rome: str) -> str:
        job = self.jobs.get(rome)
        return job.parent if job else rome

    # ------------------------------------------------------------------ links
    def _link(self, cfd: str, weight: float, why: str) -> FormationLink:
        f = self.formations.get(cfd)
        first_year = bool(f and f.common_first_year)
        return FormationLink(cfd, round(weight * (COMMON_FIRST_YEAR if first_year else 1.0), 4), why, first_year,
                             self.formation_label(cfd))

    def lycee_level(self, cfd: str) -> bool:
        f = self.formations.get(cfd)
        return f is not None and (f.level is None or f.level <= LYCEE_MAX_LEVEL)

    def _direct_uncached(self, rome: str) -> dict[str, FormationLink]:
        """The fiche's settled links, less those that belong to one of its child fiches: a link whose
        diploma shares words with a child's label and none with the fiche's own label and main title
        (F1610 « installateur … photovoltaïques » keeps CAP couvreur only for its child F1619 Couvreur)."""
        links = self._settled(rome)
        children = self.children.get(rome, [])
        if not children:
            return links
        own = self.own_words.get(rome, frozenset())
        out = dict(links)
        for cfd, link in links.items():
            words = self.formation_words(cfd) | self.onisep_words.get(cfd, frozenset())
            label = self.formations[cfd].label if cfd in self.formations else ""
            if self._share(own, words | frozenset(w for w in stems(label) if len(w) > 2)):
                continue
            owner = next((c for c in children if self._share(self.own_words.get(c, frozenset()), words)), None)
            if owner is not None:
                out[cfd] = replace(link.scaled(CHILD_OWNED), why=f"{link.why}, surtout pour la fiche {owner}")
        return out

    def _settled_uncached(self, rome: str) -> dict[str, FormationLink]:
        certif = {c: r for c, r in self.certif.get(rome, {}).items() if self.lycee_level(c)}
        onisep = {c for m in self.onisep_by_rome.get(rome, ()) for c in self.onisep[m].cfds
                  if self.lycee_level(c)} if rome in self.onisep_by_rome else set()
        # ONISEP naming a renovation of the diploma (its successor or predecessor in the BCN) names it.
        onisep_family = onisep | {c for cfd in onisep for c in self.renovations.of(cfd)}
        out: dict[str, FormationLink] = {}
        for cfd, rank in certif.items():
            weight = RANK_WEIGHT.get(rank, 0.6)
            agrees = self.confirmed(rome, cfd)
            if cfd in onisep_family:
                out[cfd] = self._link(cfd, max(weight, AGREED) * (1.0 if agrees else UNCONFIRMED),
                                      f"Certif Info (rang {rank}) et ONISEP")
            elif onisep:
                out[cfd] = self._link(cfd, weight * (0.75 if agrees else 0.25), f"Certif Info (rang {rank}), pas ONISEP")
            else:
                out[cfd] = self._link(cfd, weight * (1.0 if agrees else UNCONFIRMED), f"Certif Info (rang {rank})")
        for cfd in sorted(onisep - set(certif)):  # a set's order changes with PYTHONHASHSEED: routing must not
            base = 0.85 if certif else 0.9
            # ONISEP's own job name cannot confirm ONISEP's link: only the diploma's label can.
            agrees = self._share(self.job_words.get(rome, frozenset()), self.formation_words(cfd))
            out[cfd] = self._link(cfd, base * (1.0 if agrees else UNCONFIRMED), "ONISEP")
        return out

    def _borrowed(self, rome: str, source: str, factor_words: float, factor_labels: float,
                  what: str) -> dict[str, FormationLink]:
        """Links of a related fiche (parent or sibling), kept only where the words agree."""
        words = self.job_words.get(rome, frozenset())
        links = self._settled(source)  # as the sources say, before the source fiche gave some to its children
        agreeing = {c: link for c, link in links.items() if self._share(words, self.formation_words(c))}
        if agreeing:
            out = {c: replace(link.scaled(factor_words), why=f"{link.why}, via {what} {source}")
                   for c, link in agreeing.items()}
            # The fiches' labels agree (the all-links case below): the related fiche's links both sources
            # name in full come too (« ATSEM »: its parent K1303's CAP AEPE shares no word with its titles).
            if factor_labels > 0 and self._share(words, self.job_words.get(source, frozenset())):
                for c, link in links.items():
                    if c not in out and _both_sources(link) and link.weight >= AGREED:
                        out[c] = replace(link.scaled(factor_labels), why=f"{link.why}, via {what} {source}")
            return out
        if links and self._share(words, self.job_words.get(source, frozenset())):
            return {c: replace(link.scaled(factor_labels), why=f"{link.why}, via {what} {source}")
                    for c, link in links.items()}
        return {}

    @staticmethod
    def is_fallback(link: FormationLink) -> bool:
        """A link from the last-resort domain step: says the job's domain, not the job."""
        return link.why.startswith(DOMAIN_WHY)

    def is_taught_strongly(self, links: dict[str, FormationLink]) -> bool:
        """A link worth routing on (the matcher's floor) to a formation a located lycée teaches."""
        return any(c in self.taught_cfds and link.weight >= STRONG for c, link in links.items())

    def _for_rome(self, rome: str) -> dict[str, FormationLink]:
        out = dict(self._direct(rome))
        parent = self.parent(rome)
        if not self.is_taught_strongly(out) and parent != rome:
            for cfd, link in self._borrowed(rome, parent, 0.9, 0.6, "la fiche parente").items():
                out.setdefault(cfd, link)
        if not self.is_taught_strongly(out):
            siblings = [s for s in self.children.get(parent, []) if s != rome]
            if parent != rome:
                siblings.append(parent)
            for sibling in siblings:
                for cfd, link in self._borrowed(rome, sibling, 0.5, 0.0, "la fiche voisine").items():
                    if not _both_sources(link):
                        continue  # a sibling's link one source alone names says the sibling's trade, not this one's
                    if link.weight > 0 and (cfd not in out or link.weight > out[cfd].weight):
                        out[cfd] = link
        if not self.is_taught_strongly(out) and not self.higher_education_only(rome):
            for cfd, link in self._domain(rome).items():
                out.setdefault(cfd, link)
        for twin in self.twins.get(rome, ()):
            for cfd, link in self._settled(twin).items():
                if _both_sources(link) and link.weight >= AGREED and (cfd not in out or out[cfd].weight < link.weight * TWIN):
                    out[cfd] = replace(link.scaled(TWIN), why=f"{link.why}, via la fiche du même métier {twin}")
        return self._with_successors(out)

    def _domain(self, rome: str) -> dict[str, FormationLink]:
        """Last resort (« pizzaïolo », a fiche with no diploma of its own): the taught diplomas the other
        jobs of the same ROME domain name most often (« production culinaire » -> CAP cuisine), at a low
        weight."""
        job = self.jobs.get(rome)
        if job is None or not job.domain:
            return {}
        counts: Counter[str] = Counter()
        named_by: dict[str, str] = {}
        for other in self.by_domain.get(job.domain, ()):
            if other != rome:
                for c, link in self._settled(other).items():
                    if link.weight >= STRONG:
                        counts[c] += 1
                        named_by[c] = other
        # A diploma only one other job names, and named after that job (CAPA maréchal ferrant in the animal
        # care domain), is that trade's, not the domain's: a toiletteur's request is not a farrier school's.
        shared = [(c, n) for c, n in counts.most_common() if c in self.taught_cfds
                  and (n > 1 or not self._named_after(named_by[c], c))][:6]
        return {c: replace(self._link(c, DOMAIN_WEIGHT, ""), why=f"{DOMAIN_WHY} {job.domain}")
                for c, _ in shared}

    def _named_after(self, rome: str, cfd: str) -> bool:
        """Every meaningful word of the diploma's label is a word of the job's own label or main titles."""
        words = self.formation_words(cfd)
        return bool(words) and words <= self.own_words.get(rome, frozenset())

    def _with_successors(self, links: dict[str, FormationLink]) -> dict[str, FormationLink]:
        out = dict(links)
        frontier = list(links.values())
        for _ in range(CHAIN):
            nxt = []
            for link in frontier:
                for other in self.successors_of(link).values():
                    if other.cfd not in out or other.weight > out[other.cfd].weight:
                        out[other.cfd] = other
                        nxt.append(other)
            frontier = nxt
        return out

    def successors_of(self, link: FormationLink) -> dict[str, FormationLink]:
        others = self.renovations.neighbours(link.cfd)
        return {c: FormationLink(c, link.weight, f"{link.why} (diplôme rénové)",
                                 link.common_first_year, self.formation_label(c))
                for c in others if c in self.formations}

    def for_job(self, rome: str, typed: list[str]) -> dict[str, FormationLink]:
        """The job's formations; those whose label holds a typed word first (the rest × 0.9)."""
        links = self.for_rome(rome)
        typed_words = self._meaningful([" ".join(typed)]) if typed else frozenset()
        if not typed_words:
            return links
        return {c: (link if self._share(typed_words, self.formation_words(c)) else link.scaled(0.9))
                for c, link in links.items()}

    def _is_taught(self, rome: str) -> bool:
        return any(c in self.taught_cfds for c in self.for_rome(rome))

    def _higher_education_only(self, rome: str) -> bool:
        levels = [self.onisep[m].min_level for m in self.onisep_by_rome.get(rome, ())]
        known = [lv for lv in levels if lv is not None]
        return bool(known) and min(known) >= 6
