"""The pilot académies (issue 20, item 1): which académies get full routing, and what a company
outside them is told.

Pure decisions, no I/O: intake decides ``in_pilot`` and the notice when it takes a request, the
matcher explains its routing with the same words, the ``pilot`` command validates what an operator
types. The live value (``MLP_PILOT_ACADEMIES``, changed without restart through Redis) is
``shared.platform.pilot_live``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from shared.reference.geo import CommuneIndex, fold, load_communes

NATIONAL_TEAM = "l'équipe nationale de MonLycéePro"


class UnknownAcademie(ValueError):
    """An académie name or code that no commune belongs to; the message is French (shown to operators)."""


def academie_key(name: str) -> str:
    """'Académie de Créteil', 'creteil', 'CRÉTEIL' -> 'creteil'; 'Aix-Marseille' -> 'aix marseille'."""
    folded = fold(name)
    for prefix in ("academie de ", "academie d ", "academie "):
        if folded.startswith(prefix):
            folded = folded[len(prefix) :]
    return " ".join(folded.split())


@lru_cache(maxsize=4)
def _known_for(data_dir: Path | None) -> tuple[tuple[str, str], ...]:
    communes = load_communes(data_dir) if data_dir is not None else load_communes()
    return tuple(sorted(known_academies(communes).items()))


def known_academies(communes: CommuneIndex) -> dict[str, str]:
    """code -> name of every académie some commune belongs to (the pseudo-académies of the file,
    « Etranger », « Non renseignée »…, have no commune)."""
    departements = {c.departement for c in communes.communes}
    out: dict[str, str] = {}
    for dep in departements:
        territoire = communes.territoire(dep)
        if territoire is not None:
            out[territoire.academie_code] = territoire.academie
    return out


def _with_de(name: str) -> str:
    return ("d'" if fold(name)[:1] in set("aeiouy") else "de ") + name


def french_list(names: list[str]) -> str:
    """['Lyon', 'Aix-Marseille', 'Créteil'] -> « de Lyon, d'Aix-Marseille et de Créteil »."""
    parts = [_with_de(n) for n in names]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]


@dataclass(frozen=True, slots=True)
class Pilot:
    """The académies open to full routing, as the catalog spells them; empty: everywhere."""

    academies: tuple[str, ...] = ()
    # Folded names, computed once: intake asks ``includes`` for every request it accepts.
    _keys: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keys", frozenset(academie_key(a) for a in self.academies))

    @property
    def everywhere(self) -> bool:
        return not self.academies

    def includes(self, academie: str | None) -> bool:
        """In the pilot: everywhere when the pilot is empty; else only a known académie of the list
        (a request without académie goes to the national team, never to a guessed RBE)."""
        if self.everywhere:
            return True
        return academie is not None and academie_key(academie) in self._keys

    def opening(self) -> str:
        """« Le service s'ouvre d'abord dans les académies de Lyon et de Créteil »."""
        if len(self.academies) == 1:
            return f"Le service s'ouvre d'abord dans l'académie {_with_de(self.academies[0])}"
        return f"Le service s'ouvre d'abord dans les académies {french_list(list(self.academies))}"

    def notice(self, academie: str | None) -> str | None:
        """What a company outside the pilot is told before it submits; None inside the pilot."""
        if self.includes(academie):
            return None
        return f"{self.opening()} ; votre demande sera transmise à {outside_recipient(academie)}."

    def as_text(self) -> str:
        return ",".join(self.academies)


def outside_recipient(academie: str | None) -> str:
    """Who receives a request outside the pilot, in French."""
    if academie is None:
        return NATIONAL_TEAM
    return f"la personne référente entreprises de l'académie {_with_de(academie)} (à défaut, {NATIONAL_TEAM})"


def parse_pilot(text: str | Iterable[str], known: Mapping[str, str]) -> Pilot:
    """The pilot from names or codes (comma-separated), checked against ``known`` (code -> name).
    Raises UnknownAcademie, in French, naming every académie it does not know."""
    items = text.split(",") if isinstance(text, str) else list(text)
    by_key = {academie_key(name): name for name in known.values()}
    chosen: list[str] = []
    unknown: list[str] = []
    for raw in (i.strip() for i in items):
        if not raw:
            continue
        name = known.get(raw) or by_key.get(academie_key(raw))
        if name is None:
            unknown.append(raw)
        elif name not in chosen:
            chosen.append(name)
    if unknown:
        raise UnknownAcademie(
            f"Académie(s) inconnue(s) dans la liste pilote : {', '.join(unknown)}. "
            f"Académies connues : {', '.join(sorted(known.values()))}."
        )
    return Pilot(tuple(sorted(chosen, key=academie_key)))


def parse_pilot_from_data(text: str | Iterable[str], data_dir: Path | None = None) -> Pilot:
    """``parse_pilot`` against the académies of data/territoires.csv (``data_dir``: the settings')."""
    return parse_pilot(text, dict(_known_for(data_dir)))


def academie_of(
    communes: CommuneIndex, postal_code: str | None = None, insee: str | None = None
) -> str | None:
    """The académie of a commune (postal code and/or INSEE code), as the catalog spells it."""
    commune = communes.resolve(postal_code, insee)
    territoire = communes.territoire(commune.departement) if commune else None
    return territoire.academie if territoire else None
