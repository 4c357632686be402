"""Reading what a company typed: its meaningful words, sigles expanded (« MELEC », « CAP AEPE »), and the
diploma it names (« CAP boulanger » is boulanger, with the CAP first). See docs/job-vocabulary.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.reference.jobs.index import QueryWord, WordIndex
from shared.reference.jobs.text import DIPLOMA_FILLER, DIPLOMA_WORDS, REQUEST_WORDS, STOP_WORDS, fold, words

# The words that open what comes after the job: where (« en usine », « dans une boutique ») or for what.
COMPLEMENT_WORDS = frozenset({"en", "dans", "pour", "chez", "sur", "au", "aux", "a"})


@dataclass(frozen=True, slots=True)
class Typed:
    words: list[str]  # the meaningful typed words, sigles expanded
    diploma: str | None  # « CAP » when the text names a diploma
    sigle: bool  # a sigle was expanded
    literal: list[str] | None = None  # the same words with the sigles job titles use as written (« BTP »)
    head: list[str] | None = None  # the words before a place or purpose (« vendeur » in « vendeur en supermarché »)


def read_typed(text: str, abbreviations: Mapping[str, str], clippings: frozenset[str] = frozenset(),
               titled: frozenset[str] = frozenset(), label_sigles: Mapping[str, str] | None = None) -> Typed:
    """``abbreviations``: folded sigle -> what it stands for; ``clippings``: those of them that are words
    clipped or jargon (« cuisto », « placiste »): expanded, but read as a job, not as a diploma's sigle;
    ``titled``: those of them job titles write as such (« Ferrailleur du BTP »), also kept as typed;
    ``label_sigles``: sigles read off the diplomas' labels, expanded only after a diploma's type (« BTS MOS »):
    alone, such a word is more likely a word than a diploma."""
    every = [w for w in words(text) if w]
    typed = [w for w in every if w not in REQUEST_WORDS]
    whole = fold(text) if len(typed) == len(every) else " ".join(typed)  # « apprenti MELEC » is « MELEC »
    if whole in abbreviations:
        return Typed([w for w in words(abbreviations[whole]) if w not in STOP_WORDS], None, whole not in clippings)
    expanded: list[str] = []
    literal: list[str] = []
    diploma = None
    sigle = False
    head: list[str] | None = None
    for w in _paired(typed, abbreviations):
        if w in COMPLEMENT_WORDS and expanded and head is None:
            head = list(expanded)
        if w in DIPLOMA_WORDS and len(typed) > 1:
            diploma = diploma or DIPLOMA_WORDS[w]
            continue
        sigle_of = abbreviations.get(w) or (label_sigles.get(w) if diploma and label_sigles else None)
        if sigle_of and len(w) >= 2:
            expansion = [x for x in words(sigle_of) if x not in STOP_WORDS]
            expanded.extend(expansion)
            literal.extend([w] if w in titled else expansion)
            sigle = sigle or w not in clippings
        elif w not in STOP_WORDS and not (diploma and w in DIPLOMA_FILLER):
            expanded.append(w)
            literal.append(w)
    return Typed(expanded, diploma, sigle, literal if literal != expanded else None,
                 head if head is not None and len(head) < len(expanded) else None)


def _paired(typed: list[str], abbreviations: Mapping[str, str]) -> list[str]:
    """The typed words, two of them joined where the pair is itself an entry (« permis C »: a heavy goods
    vehicle's licence; « C » alone says nothing)."""
    out: list[str] = []
    i = 0
    while i < len(typed):
        pair = f"{typed[i]} {typed[i + 1]}" if i + 1 < len(typed) else ""
        if pair in abbreviations:
            out.append(pair)
            i += 2
        else:
            out.append(typed[i])
            i += 1
    return out


def query_words(index: WordIndex, typed: list[str], *, prefix: bool = False) -> list[QueryWord]:
    """The typed words as the index reads them; with ``prefix``, the last one may be unfinished."""
    last = len(typed) - 1
    return [index.prefix_word(w) if prefix and i == last else index.query_word(w) for i, w in enumerate(typed)]
