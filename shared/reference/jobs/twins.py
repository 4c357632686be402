"""The same trade under another role word: fiches of one ROME domain whose labels differ only by their first
word, when that word is a role (« Technicien de maintenance industrielle », « Mécanicien de maintenance
industrielle »). ``links.JobLinks`` lets each take the other's links both sources name. See
docs/job-vocabulary.md."""

from __future__ import annotations

from collections import Counter, defaultdict

from shared.reference.jobs.text import stems
from shared.reference.jobs.vocabulary import CompactVocabulary

ROLE_TITLES = 40  # a generic word that starts this many job titles is a role (agent, technicien, opérateur…)


def role_twins(vocabulary: CompactVocabulary, generic: frozenset[str]) -> dict[str, list[str]]:
    """ROME code -> the other fiches of its trade. Role words are read from the data, not listed: generic
    words (``generic``: in more than 1 % of job titles) that start many titles. No emploi cadre."""
    first: Counter[str] = Counter()
    for t in vocabulary.titles:
        first.update(stems(t.label)[:1])
    roles = {s for s, n in first.items() if n >= ROLE_TITLES and s in generic}
    trades: dict[tuple[str, frozenset[str]], list[str]] = defaultdict(list)
    for job in vocabulary.jobs:
        words = stems(job.label)
        trade = frozenset(words) - set(words[:1])
        if words and words[0] in roles and trade and job.domain and not job.executive:
            trades[(job.domain, trade)].append(job.rome)
    return {rome: [o for o in romes if o != rome] for romes in trades.values() if len(romes) > 1 for rome in romes}
