"""Diploma sigles read off the diplomas' own labels (« BTS MOS »: management opérationnel de la sécurité),
beside the curated ones of data/sigles_metiers.csv. See docs/job-vocabulary.md, « Words »."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable

from shared.reference.jobs.text import DIPLOMA_WORDS, PERSON_WORDS, REQUEST_WORDS, STOP_WORDS, fold, words
from shared.reference.jobs.vocabulary import CompactFormation

MIN_LETTERS = 3  # two letters name too many things (« MS », « MC » is itself a diploma)
# The speciality's name, without its option or its year: « Maintenance des véhicules option A » → « MV… ».
_BASE = re.compile(r"\s+option\b|\s*:|\s+-\s+|\(|\s+\d", re.IGNORECASE)


def label_sigles(formations: Iterable[CompactFormation], taught: Collection[str],
                 taken: Collection[str], renamed: Collection[str] = ()) -> dict[str, str]:
    """Folded sigle -> the label it stands for: the initials of the meaningful words of a taught diploma's
    label, when they are letters only, at least three, name one label, and are no word already read
    otherwise (``taken``: job-title words, curated sigles). ``renamed``: earlier diplomas a taught one
    replaced (BCN renovations): companies keep their names for years (« BTS MUC », now MCO); their sigles
    come after the taught ones', which keep a sigle both would claim."""
    reserved = STOP_WORDS | REQUEST_WORDS | PERSON_WORDS | set(DIPLOMA_WORDS)
    taught_ones = _sigles(f for f in formations if f.cfd in taught)
    earlier = _sigles(f for f in formations if f.cfd in renamed and f.cfd not in taught)
    every = {**{s: named for s, named in earlier.items() if s not in taught_ones}, **taught_ones}
    return {sigle: next(iter(named)) for sigle, named in sorted(every.items())
            if len(named) == 1 and sigle.isalpha() and sigle not in reserved and sigle not in taken}


def _sigles(formations: Iterable[CompactFormation]) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = defaultdict(set)
    for f in formations:
        base = _BASE.split(f.label)[0]
        meaningful = [w for w in words(base) if w not in STOP_WORDS and len(w) > 1]
        if len(meaningful) >= MIN_LETTERS:
            labels["".join(w[0] for w in meaningful)].add(fold(base))
    return labels
