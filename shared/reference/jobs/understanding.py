"""What the resolver answers: the jobs a text names, their formations, and the French sentence the
company reads before it submits (« Nous avons compris : … »)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared.reference.jobs.links import FormationLink

Status = Literal["compris", "corrige", "vague", "inconnu"]


@dataclass(frozen=True, slots=True)
class JobSense:
    rome: str
    label: str  # the fiche's label, « Boulanger / Boulangère »
    score: float  # 0..1: how well the typed text names this job
    via: str  # the title that matched
    taught: bool
    exact: bool = False  # the text is one of the job's titles, word for word


@dataclass(slots=True)
class Understanding:
    """What a typed job means; ``status``: compris, corrige (typo), vague, inconnu."""

    text: str
    status: Status
    jobs: list[JobSense] = field(default_factory=list)
    alternatives: list[JobSense] = field(default_factory=list)
    formations: dict[str, FormationLink] = field(default_factory=dict)
    correction: str | None = None  # the typed text with its typos corrected
    ignored: list[str] = field(default_factory=list)  # typed words that name nothing known
    diploma: str | None = None  # « CAP » when the text names one
    from_sector: bool = False

    @property
    def romes(self) -> list[str]:
        return [j.rome for j in self.jobs]

    @property
    def summary(self) -> str:
        """« Boulanger / Boulangère » or « Boulanger / Boulangère, Pâtissier / Pâtissière »."""
        if self.jobs:
            return ", ".join(j.label for j in self.jobs)
        return ", ".join(link.label for link in list(self.formations.values())[:2])


    @property
    def message(self) -> str:
        """What the company reads before it submits (French)."""
        if self.status == "inconnu":
            return (f"Métier non reconnu : « {self.text[:80]} ». Précisez-le (par exemple « boulanger », "
                    "« électricien du bâtiment ») ou choisissez une proposition de la liste.")
        if self.from_sector:
            return f"Métiers typiques de votre secteur d'activité : {_short_list(self.jobs)}."
        understood = f"Nous avons compris : {self.summary}"
        if self.diploma:
            understood += f" (diplôme demandé : {self.diploma})"
        if self.ignored:
            understood += " (mots non pris en compte : " + ", ".join(f"« {w} »" for w in self.ignored[:3]) + ")"
        if self.status == "corrige" and self.correction:
            return f"{understood}. Vouliez-vous dire « {self.correction} » ?"
        if self.status == "vague":
            return f"{understood}. Votre demande est large : précisez le métier si vous le pouvez."
        return understood + "."


def _short_list(jobs: list[JobSense], limit: int = 4) -> str:
    labels = [j.label for j in jobs[:limit]]
    return ", ".join(labels) + ("…" if len(jobs) > limit else "")


@dataclass(frozen=True, slots=True)
class JobSuggestion:
    label: str
    rome: str
    rome_label: str
    source: str
    score: float
    taught: bool
