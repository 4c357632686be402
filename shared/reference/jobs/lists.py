"""Several jobs typed in one text (« cuisinier, serveur », « plaquiste/peintre »): where a text lists jobs, and
their readings put together. See docs/job-vocabulary.md, « Several jobs in one text »."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection

from shared.reference.jobs.links import merge_link
from shared.reference.jobs.text import masculine, stem, words
from shared.reference.jobs.understanding import Understanding

# Several jobs in one text: « cuisinier, serveur », « plombier ; chauffagiste », « vendeur + caissier »,
# « plaquiste/peintre » (``listed_parts``); not « et » (« agent de propreté et d'hygiène »).
LIST_SEPARATOR = re.compile(r"\s*([,;+/])\s*")
LISTED_JOBS = 5
LISTED_MIN_LETTERS = 3  # « aide-soignant/e »: a gender's ending, not a job
GENDER_STEM = 4  # first letters two genders of a word share


def listed_parts(text: str, known: Collection[str], heads: Callable[[str], bool]) -> list[str]:
    """The jobs a text lists: « plaquiste/peintre », « cuisinier, serveur ». A separator lists jobs only
    where the words opening the parts on either side are words job titles open with, and not one word's
    two genders: the titles the autocomplete offers stay whole (« Boulanger / Boulangère », « Chef
    d'atelier en production de papier/carton », « Conducteur de travaux Voirie, Réseaux Divers »), as
    do « boulanger/ère » and « H/F »."""
    pieces = LIST_SEPARATOR.split(text)  # part, separator, part, …
    out, opening = [pieces[0]], words(pieces[0])[:1]
    for separator, piece in zip(pieces[1::2], pieces[2::2], strict=True):
        after = words(piece)[:1]
        if opening and after and min(len(opening[0]), len(after[0])) >= LISTED_MIN_LETTERS \
                and all(w in known and heads(stem(w)) for w in (opening[0], after[0])) \
                and not genders(opening[0], after[0]):
            out.append(piece)
            opening = after
        else:
            out[-1] += separator + piece
    return out


def genders(a: str, b: str) -> bool:
    """Whether two folded words may be one word's two genders: « agent / agente », « chef / cheffe »,
    « conducteur / conductrice » share their first letters (and « électricien / électrotechnicien », which is
    safer read as one text than split)."""
    return masculine(a) == masculine(b) or len(os.path.commonprefix([a, b])) >= min(GENDER_STEM, len(a), len(b))


def listed(text: str, parts: list[Understanding]) -> Understanding:
    """Several jobs typed in one text, each understood alone: their first readings lead, their formations
    together (a lycée training for either answers). A part opens with a word job titles open with
    (``listed_parts``), so none names nothing; words no title holds (« cuisinier, serveur, zzzz »: « serveur,
    zzzz » is one part) are in its ``ignored``, said in the message."""
    statuses = {u.status for u in parts}
    out = Understanding(text=text, status="vague" if "vague" in statuses else "corrige" if "corrige" in statuses
                        else "compris", diploma=next((u.diploma for u in parts if u.diploma), None))
    seen: set[str] = set()
    for rank in range(max(len(u.jobs) for u in parts)):  # each part's first reading, then each one's second…
        for u in parts:
            if rank < len(u.jobs) and u.jobs[rank].rome not in seen and len(out.jobs) < LISTED_JOBS:
                seen.add(u.jobs[rank].rome)
                out.jobs.append(u.jobs[rank])
    out.alternatives = [j for u in parts for j in u.jobs + u.alternatives if j.rome not in seen][:5]
    for u in parts:
        for link in u.formations.values():
            merge_link(out.formations, link)
        out.ignored += u.ignored
    if out.status == "corrige":
        out.correction = ", ".join(u.correction or u.text.strip() for u in parts)
    return out
