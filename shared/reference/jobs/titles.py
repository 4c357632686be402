"""The jobs a text names, read on their titles: ROME appellations (principale over synonyme), fiche labels
and ONISEP job names, each job scored by its best title, then weighed by what the data says of it (taught
by a lycée, emploi cadre, bac + 3, the company's sector). The form's autocomplete reads the same titles.
See docs/job-vocabulary.md, « Jobs (senses) »."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from shared.reference.jobs.index import QueryWord, WordIndex
from shared.reference.jobs.links import JobLinks
from shared.reference.jobs.text import fold
from shared.reference.jobs.understanding import JobSense, JobSuggestion
from shared.reference.jobs.vocabulary import CompactTitle

KIND_WEIGHT = {"principale": 1.0, "rome": 1.0, "onisep": 0.97, "synonyme": 0.93, "certif": 0.9}
UNTAUGHT = 0.7  # a job no located lycée trains for ranks below one they do
HIGHER_EDUCATION = 0.5  # ONISEP says the job starts at bac + 3 or more
NAF_BOOST = 1.15
PARTIAL_SCORE = 0.15  # with nothing above the resolver's MIN_SCORE, the best readings from here on, said vague
SENSE_MIN_COVERAGE = 0.15  # titles covering less of the text cannot reach MIN_SCORE (with every bonus)
EXECUTIVE = 0.7  # an emploi cadre: as rarely what a lycée trains for as a job no lycée teaches (UNTAUGHT)
NOT_HEAD = 0.9  # the typed trade is not the title's first word
SUPPORT_STEP, SUPPORT_MAX = 0.02, 0.08  # several titles of one job naming the text: a surer sense
EXACT = 0.999  # a title score this high: the text is the title
# The text is one fiche's own label and only an appellation of another (« menuisier »: H2206's label, an
# appellation of F1607 menuisier aluminium; « couvreur », « magasinier »: a ROME 4 child's label that its
# parent keeps as an appellation): the fiche it names leads, the other stays a lesser reading.
NAMED_ELSEWHERE = 0.9
# A professional title's name (« conseiller de vente ») reads the text only when it names it better than
# every ROME and ONISEP title does: Certif Info links such a title widely (five retail trades for that one),
# so beside a job's own title it would only add readings. Among the jobs it names, those whose own titles
# hold more of the text come first (« conseiller de vente en magasin de bricolage »: bricolage).
CERTIF_OWN_SHARE = 0.05
CERTIF_MIN_COVERAGE = 0.99  # every typed word is one of the title's
CERTIF_MIN_SCORE = 0.8  # and the text is nearly the whole title (« vente en magasin » is not « employé de vente polyvalent en magasin »)


class JobTitles:
    def __init__(self, titles: list[CompactTitle], rome_labels: Mapping[str, str],
                 naf_romes: Mapping[str, frozenset[str]], links: JobLinks,
                 certified: list[CompactTitle] | None = None) -> None:
        self.titles = titles
        self.rome_labels = rome_labels
        self.naf_romes = naf_romes
        self.links = links
        self.index = WordIndex([t.label for t in titles])
        # Their own index: their words change neither the weight of a word among job titles nor a job's words.
        self.certified = certified or []
        self.certified_index = WordIndex([t.label for t in self.certified]) if self.certified else None
        self._stems_by_rome: dict[str, frozenset[str]] | None = None  # built on the first vague request
        self._suggestion_weights: dict[str, float] = {}
        self._title_heads: frozenset[str] | None = None
        self._statics: dict[int, tuple[list[float], list[str]]] = {}

    def senses(self, query: list[QueryWord], naf_division: str | None) -> list[JobSense]:
        """Every job a title of which the text names, best first."""
        best: dict[str, JobSense] = {}
        support: dict[str, int] = defaultdict(int)
        exact: set[str] = set()
        own_title: set[str] = set()  # the text is the job's main title (ROME's own, not a synonym or ONISEP's)
        own_label: set[str] = set()  # the text is the fiche's own label
        naf = self.naf_romes.get(naf_division or "", frozenset())
        heads = set(query[0].matches) if query else set()
        # A mistyped text names a title word for word once corrected (« cuisnier »: Cuisinier), though no
        # correction scores 1: what a title can score at best is then below 1.
        exact_score = EXACT * self.index.ceiling(query)
        for doc, score in self.index.score(query, min_coverage=SENSE_MIN_COVERAGE).items():
            title = self.titles[doc]
            rome = title.rome or ""
            # French job titles put the trade first: « Vendeur en boulangerie » is a vendeur.
            s = score * KIND_WEIGHT[title.kind] * (1.0 if self.index.doc_stems[doc][0] in heads else NOT_HEAD)
            if s + SUPPORT_MAX < PARTIAL_SCORE / NAF_BOOST:
                continue  # cannot be kept, whatever the bonuses
            if s >= 0.5:
                support[rome] += 1
            if score >= exact_score:
                exact.add(rome)
                if title.kind in ("principale", "rome"):
                    own_title.add(rome)
                if title.kind == "rome":
                    own_label.add(rome)
            current = best.get(rome)
            if current is None or s > current.score:
                best[rome] = JobSense(rome, self.rome_labels[rome], s, title.label, False)
        self._add_certified(query, best)
        out = []
        for rome, sense in best.items():
            s = sense.score + min(SUPPORT_MAX, SUPPORT_STEP * max(0, support[rome] - 1))
            taught = self.links.is_taught(rome)
            # A text that is the job's main title (« conducteur de travaux ») means that job when lycées train
            # for it (BTS): the level penalties order the readings of a looser text. Not for synonyms and
            # ONISEP's names (« paysagiste » is also ONISEP's name of an agronomist's job).
            named = rome in own_title and taught
            if self.links.jobs[rome].executive and not named:
                s *= EXECUTIVE
            if not taught:
                s *= UNTAUGHT
            elif self.links.higher_education_only(rome) and not named:
                s *= HIGHER_EDUCATION
            if naf and (rome in naf or self.links.parent(rome) in naf):
                s *= NAF_BOOST
            if rome in exact and rome not in own_label and own_label:
                s *= NAMED_ELSEWHERE
            out.append(JobSense(rome, sense.label, round(min(s, 1.0), 4), sense.via, taught, rome in exact))
        return sorted(out, key=lambda j: (-j.score, not j.taught, j.rome))

    def _add_certified(self, query: list[QueryWord], best: dict[str, JobSense]) -> None:
        """The jobs a professional title names, where it names the text better than any job title does."""
        index = self.certified_index
        if index is None or not query:
            return
        words = [index.query_word(qw.typed) for qw in query]
        if not all(w.matches for w in words):
            return  # a typed word no such title holds: the title does not name the text
        heads = set(words[0].matches)
        named = max((sense.score for sense in best.values()), default=0.0)
        found: dict[str, tuple[float, str]] = {}
        for doc, score in index.score(words, min_coverage=CERTIF_MIN_COVERAGE).items():
            title = self.certified[doc]
            rome = title.rome or ""
            s = score * KIND_WEIGHT[title.kind] * (1.0 if index.doc_stems[doc][0] in heads else NOT_HEAD)
            if score >= CERTIF_MIN_SCORE and s > named and rome in self.rome_labels and s > found.get(rome, (0.0, ""))[0]:
                found[rome] = (s, title.label)
        for rome, (s, label) in found.items():
            own = best[rome].score if rome in best else 0.0
            best[rome] = JobSense(rome, self.rome_labels[rome], s + CERTIF_OWN_SHARE * own, label, False)

    def is_title_head(self, stem: str) -> bool:
        """Some job title opens with this word (« vendeur », « auxiliaire »; not « vente »)."""
        if self._title_heads is None:
            self._title_heads = frozenset(doc[0] for doc in self.index.doc_stems if doc)
        return stem in self._title_heads

    def stems_of(self, rome: str) -> frozenset[str]:
        """The words of all the job's titles (stems)."""
        if self._stems_by_rome is None:
            by_rome: dict[str, set[str]] = defaultdict(set)
            for doc, title in enumerate(self.titles):
                by_rome[title.rome or ""].update(self.index.doc_stems[doc])
            self._stems_by_rome = {r: frozenset(v) for r, v in by_rome.items()}
        return self._stems_by_rome.get(rome, frozenset())

    def _suggestion_weight(self, rome: str) -> float:
        """How likely lycées train for the job, for the autocomplete's order (« électricien »: the trades before
        « Ingénieur électricien », « mécani »: the mechanics before « Ingénieur en mécanique »)."""
        weight = self._suggestion_weights.get(rome)
        if weight is None:
            links = self.links
            if not links.is_taught(rome):
                weight = UNTAUGHT
            else:
                # As the readings do: a bac + 3 job or an emploi cadre is seldom what a lycée trains for.
                job = links.jobs.get(rome)
                weight = (HIGHER_EDUCATION if links.higher_education_only(rome) else
                          EXECUTIVE if job is not None and job.executive else 1.0)
            self._suggestion_weights[rome] = weight
        return weight

    def _suggestion_statics(self, titles: list[CompactTitle]) -> tuple[list[float], list[str]]:
        """Per title, what the autocomplete weighs it by besides the typed text (its kind, the job's level)
        and its folded label (one suggestion per wording): computed once, not on every keystroke."""
        key = id(titles)
        if key not in self._statics:
            self._statics[key] = ([KIND_WEIGHT[t.kind] * self._suggestion_weight(t.rome or "") for t in titles],
                                  [fold(t.label) for t in titles])
        return self._statics[key]

    def suggest(self, query: list[QueryWord], limit: int, certified_query: list[QueryWord] | None = None
                ) -> list[JobSuggestion]:
        """The form's autocomplete: titles covering the text, the taught ones first, one per wording.
        ``certified_query``: the same text read in the professional titles' index (« conseiller de vente »)."""
        scored = []
        for titles, index, words in ((self.titles, self.index, query), (self.certified, self.certified_index, certified_query)):
            if index is None or not words or not all(w.matches for w in words):
                continue
            static, folded = self._suggestion_statics(titles)
            for doc, score in index.score(words, min_coverage=0.9).items():
                title = titles[doc]
                scored.append((-score * static[doc], len(title.label), title.label, title, folded[doc]))
        scored.sort(key=lambda entry: entry[:3])
        out: list[JobSuggestion] = []
        seen: set[str] = set()
        for neg, _, label, title, key in scored:
            if key in seen:
                continue
            seen.add(key)
            rome = title.rome or ""
            out.append(JobSuggestion(label, rome, self.rome_labels.get(rome, ""), _source(title.kind), round(-neg, 4),
                                     self.links.is_taught(rome)))
            if len(out) >= limit:
                break
        return out


def _source(kind: str) -> str:
    return {"principale": "appellation", "synonyme": "appellation"}.get(kind, kind)
