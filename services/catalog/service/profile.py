"""The richer profile an RBE writes (issue 22): what it holds in memory, the pitch drafted from the data,
and how complete it is. Each part is optional; the public page shows only what exists."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session

from services.catalog import repository as repo
from services.catalog.models import LyceeSettings, PfmpPeriod, ProfileEvent
from shared.reference.geo import fold
from shared.reference.periods import PFMP_CLASSES, Period, classes_during, fit_sentence, parse_period

EVENT_KINDS = {
    "job_dating": "Job dating", "portes_ouvertes": "Portes ouvertes", "forum": "Forum des métiers",
    "jury": "Jury d'examen", "autre": "Autre événement",
}
# Which company needs an event serves (the matcher weighs the same, services/matcher/service/profile_fit.py).
EVENT_NEEDS = {
    "job_dating": {"recrutement", "apprentissage", "pfmp"}, "forum": {"recrutement", "apprentissage", "intervention"},
    "portes_ouvertes": {"visite", "materiel", "soutien", "autre"}, "jury": {"jury"}, "autre": {"autre"},
}
MONTHS_FR = ("", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")


def french_date(day: date) -> str:
    return f"{'1er' if day.day == 1 else day.day} {MONTHS_FR[day.month]} {day.year}"


def event_when(event: ProfileEvent) -> str:
    if event.ends_on and event.ends_on != event.starts_on:
        return f"du {french_date(event.starts_on)} au {french_date(event.ends_on)}"
    return f"le {french_date(event.starts_on)}"


def is_upcoming(event: ProfileEvent, today: date) -> bool:
    return (event.ends_on or event.starts_on) >= today


@dataclass
class LyceeExtras:
    """The parts of a profile held in tables of their own, per lycée."""

    pfmp: list[PfmpPeriod] = field(default_factory=list)
    events: list[ProfileEvent] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)  # consented ones only
    image: tuple[str, str, int, int] | None = None  # (kind, digest, width, height)

    def periods(self) -> list[tuple[str, Period]]:
        out = []
        for row in self.pfmp:
            period = Period.from_code(row.ranges)
            if period is not None:
                out.append((row.classe, period))
        return out

    def upcoming(self, today: date) -> list[ProfileEvent]:
        return [e for e in self.events if is_upcoming(e, today)]

    def pfmp_fit(self, company: Period | None) -> str | None:
        """« vos dates (mars) tombent pendant la PFMP des 1re », or None."""
        if company is None:
            return None
        classes = classes_during(company, self.periods())
        return fit_sentence(company, classes) if classes else None


CLASS_WORDS = {"2de": "2de", "2nde": "2de", "seconde": "2de", "1re": "1re", "1ere": "1re", "premiere": "1re",
               "tle": "tle", "terminale": "tle", "term": "tle"}


def legacy_periods(text: str) -> list[PfmpPeriod]:
    """The free text typed before the periods per class (« 2de du 12 janvier au 6 février ; 1re du 2 au 27
    mars »), read segment by segment; a segment without a class is « autre classe ». Not stored: used only
    while the RBE has not entered periods per class."""
    out = []
    for segment in re.split(r"[;\n]+", text):
        period = parse_period(segment)
        if period is None:
            continue
        first = re.match(r"[a-z0-9]+", fold(segment))
        classe = CLASS_WORDS.get(first.group(), "autre") if first else "autre"
        out.append(PfmpPeriod(uai="", classe=classe, dates=segment.strip()[:200], ranges=period.code()))
    return out


def load_extras(session: Session) -> dict[str, LyceeExtras]:
    extras: dict[str, LyceeExtras] = defaultdict(LyceeExtras)
    for period in repo.all_pfmp_rows(session):
        extras[period.uai].pfmp.append(period)
    for event in repo.upcoming_event_rows(session, date.today().replace(day=1)):
        extras[event.uai].events.append(event)
    for partner in repo.consented_partner_rows(session):
        extras[partner.uai].partners.append(partner.name)
    for uai, meta in repo.image_meta(session).items():
        extras[uai].image = meta
    for row in repo.all_rows(session, LyceeSettings):
        if row.pfmp_periods.strip() and not extras.get(row.uai, LyceeExtras()).pfmp:
            extras[row.uai].pfmp = legacy_periods(row.pfmp_periods)
    for one in extras.values():
        one.events.sort(key=lambda e: (e.starts_on, e.id or 0))
    return dict(extras)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def words_of(settings: LyceeSettings | None, extras: LyceeExtras | None, today: date) -> str:
    """The RBE's own words, for the free-text search: pitch, platforms, labels, networks, events, partners."""
    parts: list[str] = []
    if settings is not None:
        parts += [settings.pitch, settings.platforms, settings.label_lycee_metiers, settings.label_cmq, settings.networks]
        if settings.label_lycee_metiers:
            parts.append("lycée des métiers")
        if settings.label_cmq:
            parts.append("campus des métiers et des qualifications")
    if extras is not None:
        for e in extras.upcoming(today):
            parts += [EVENT_KINDS.get(e.kind, ""), e.title, e.details]
        parts += extras.partners
    return " ".join(p for p in parts if p)


# ------------------------------------------------------------------ completeness (shown to the RBE only)
@dataclass(frozen=True)
class Part:
    key: str
    label: str
    advice: str  # why adding it is worth it, as « the one next thing »


PARTS = (
    Part("services", "Services proposés", "Cochez les services que vous proposez aux entreprises : les demandes "
         "correspondantes vous sont adressées en priorité."),
    Part("pfmp", "Périodes de PFMP par classe", "Indiquez les périodes de PFMP de vos classes : une entreprise dont "
         "les dates tombent pendant une PFMP vous est adressée en priorité, et le formulaire le lui dit."),
    Part("pitch", "Présentation", "Relisez la présentation proposée à partir de vos données, corrigez-la et "
         "publiez-la : elle sera signalée « rédigée par le lycée »."),
    Part("events", "Événements ouverts aux entreprises", "Annoncez un événement ouvert aux entreprises (job dating, "
         "portes ouvertes, forum, jury) : il apparaît sur votre fiche, dans la recherche et dans l'agenda."),
    Part("capacity", "Capacité mensuelle", "Indiquez combien de demandes d'entreprises vous pouvez traiter par mois : "
         "au-delà, elles vont à un autre lycée."),
    Part("image", "Logo ou photo", "Ajoutez un logo ou une photo de vos ateliers."),
    Part("platforms", "Plateaux techniques et équipements", "Décrivez vos plateaux techniques et équipements : "
         "atelier, cuisine pédagogique, machine que les entreprises peuvent voir ou utiliser."),
    Part("labels", "Labels et réseaux", "Indiquez vos labels et réseaux : lycée des métiers, campus des métiers et "
         "des qualifications."),
    Part("partners", "Entreprises partenaires", "Citez des entreprises partenaires, avec leur accord."),
)


@dataclass(frozen=True)
class Completeness:
    filled: tuple[str, ...]
    missing: tuple[Part, ...]

    @property
    def percent(self) -> int:
        return round(100 * len(self.filled) / len(PARTS))

    @property
    def next(self) -> Part | None:
        return self.missing[0] if self.missing else None


def completeness(settings: LyceeSettings | None, extras: LyceeExtras | None, today: date,
                 all_partners: int | None = None) -> Completeness:
    """Which parts are filled; the first missing one (in PARTS order: what routing uses first) is the advice.
    ``all_partners``: partners recorded with or without consent (the RBE did fill the part)."""
    s = settings or LyceeSettings(uai="")
    e = extras or LyceeExtras()
    filled = {
        "services": bool(s.services), "pfmp": bool(e.pfmp) or bool(s.pfmp_periods.strip()), "pitch": bool(s.pitch.strip()),
        "events": bool(e.upcoming(today)), "capacity": s.monthly_capacity is not None, "image": e.image is not None,
        "platforms": bool(s.platforms.strip()), "labels": bool(s.label_lycee_metiers or s.label_cmq or s.networks.strip()),
        "partners": bool(all_partners if all_partners is not None else e.partners),
    }
    return Completeness(tuple(p.key for p in PARTS if filled[p.key]), tuple(p for p in PARTS if not filled[p.key]))


def class_label(code: str) -> str:
    return PFMP_CLASSES.get(code, PFMP_CLASSES["autre"])[0]
