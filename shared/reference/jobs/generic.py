"""A generic title: words that name a role many trades share (« opérateur de production »,
« agent de production »), not one trade.

ROME spells such a role once per trade: « Opérateur de production en céramique », « … des métaux »,
« … en industrie alimentaire ». Read title by title, the text lands on whichever of them scores best
(the céramique one, a principal title), and the request goes to the few lycées teaching that trade.
What a company means by the generic title is the role itself, so its formations are those the
trades it names have in common (« Bac pro Pilote de ligne de production » is linked to five of
them), weighted by how many of those trades share each one; a formation only one trade leads to
keeps a small share of its weight.
"""

from __future__ import annotations

from shared.reference.jobs.index import QueryWord
from shared.reference.jobs.links import FormationLink, JobLinks
from shared.reference.jobs.text import stems
from shared.reference.jobs.understanding import JobSense

GENERIC_TRADES = 4  # distinct jobs whose titles hold every typed word, each adding its own
GENERIC_RATIO = 0.7  # counted among the readings within this share of the best one
KEPT_READINGS = 5
SHARED_BY = 3  # trades a formation must be common to: with fewer, the "common ground" is noise


def generic_readings(query: list[QueryWord], senses: list[JobSense]) -> list[JobSense]:
    """The readings of a generic title, in their order; [] when the text names one trade: a title
    says it word for word, fewer than two words were typed, or too few trades share them."""
    if len(query) < 2 or not senses or any(s.exact for s in senses):
        return []
    floor = GENERIC_RATIO * senses[0].score
    covering: list[JobSense] = []
    for sense in senses:
        if sense.score < floor:
            break
        title = set(stems(sense.via))  # its meaningful words: the role's, and the trade's own
        if len(title) > len(query) and all(qw.matches.keys() & title for qw in query):
            covering.append(sense)
    return covering if len({s.rome for s in covering}) >= GENERIC_TRADES else []


def one_title_readings(senses: list[JobSense], keep_ratio: float, many: int) -> list[JobSense]:
    """The readings of a title naming ``many`` trades or more at once, as a professional title does
    (« conseiller de vente »: Certif Info links it to five retail trades, none first): [] otherwise. Such a
    text means the role the trades share, as a generic title does."""
    if not senses:
        return []
    close = [s for s in senses if s.score >= keep_ratio * senses[0].score]
    return close if len(close) >= many and len({s.via for s in close}) == 1 else []


def shared_formations(readings: list[JobSense], links: JobLinks
                      ) -> tuple[dict[str, FormationLink], list[JobSense]] | None:
    """(formations weighted by the share of the readings leading to each, the readings kept); None
    when no formation a lycée teaches is common to ``SHARED_BY`` of them (« agent de quai »: the
    title reading stands)."""
    per_reading = {s.rome: {c: link for c, link in links.for_rome(s.rome).items() if not links.is_fallback(link)}
                   for s in readings}
    support: dict[str, int] = {}
    for reading_links in per_reading.values():
        for cfd in reading_links:
            support[cfd] = support.get(cfd, 0) + 1
    most = max((n for c, n in support.items() if c in links.taught_cfds), default=0)
    if most < SHARED_BY:
        return None
    formations: dict[str, FormationLink] = {}
    for reading_links in per_reading.values():
        for cfd, link in reading_links.items():
            shared = link.scaled(min(1.0, support[cfd] / most))
            current = formations.get(cfd)
            if current is None or shared.weight > current.weight:
                formations[cfd] = shared
    return formations, readings[:KEPT_READINGS]  # as read, best title first (the readings' own order)
