"""A realistic company file for the campaign tests: real communes and postal codes of data/, SIRETs
valid by Luhn, addresses that pass intake's rules; and the database helpers the tests share."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

from sqlalchemy import Engine, func, select
from sqlmodel import Session
from stdnum import luhn

from services.intake.campaigns import invitations, repository
from services.intake.campaigns.importer import ImportReport, import_rows, read_table
from services.intake.campaigns.models import Campaign, CampaignContact, CampaignInvitation
from services.intake.campaigns.tokens import CampaignTokens
from shared.platform.clock import utcnow
from shared.platform.db import unit_of_work
from shared.reference.geo import Commune, load_communes

HEADER = ["SIRET", "Raison sociale", "Nom du contact", "Email du contact", "Code postal ou commune", "Code NAF",
          "Métiers"]
NAFS = ["10.71C", "43.21A", "56.10A", "45.20A", "47.11F", "62.01Z", "86.10Z", "49.41A", "25.62B", "96.02A"]
JOBS = ["Boulanger", "Électricien", "Cuisinier", "Mécanicien automobile", "Vendeur", "Développeur", "Aide-soignant",
        "Chauffeur", "Usineur", "Coiffeur"]
FIRST = ["Jeanne", "Karim", "Sophie", "Lucas", "Aïcha", "Pierre", "Inès", "Thomas", "Camille", "Mehdi"]
LAST = ["Martin", "Bernard", "Dubois", "Nguyen", "Lefèvre", "Moreau", "Diallo", "Garcia", "Roux", "Fontaine"]
SECRET = "test-secret-key"
TOKENS = CampaignTokens(SECRET)


def siret(n: int) -> str:
    """A SIRET valid by Luhn (SIREN and SIRET keys) for the n-th company."""
    siren = f"{31_000_000 + n:08d}"
    siren += luhn.calc_check_digit(siren)
    base = siren + "0001"
    return base + luhn.calc_check_digit(base)


def located_communes(seed: int = 20) -> list[Commune]:
    """Communes of the project's data with a postal code and a position, in a fixed random order."""
    communes = [c for c in load_communes().communes if c.postal_code and c.latitude is not None
                and c.insee not in {"75056", "69123", "13055"}]
    random.Random(seed).shuffle(communes)
    return communes


@dataclass
class Company:
    siret: str
    name: str
    contact: str
    email: str
    place: str  # postal code or commune name, as a partner's file has it
    naf: str
    jobs: str
    commune: Commune


def companies(count: int, seed: int = 20, start: int = 0) -> list[Company]:
    rng = random.Random(seed + start)
    out = []
    communes = located_communes(seed)
    for i in range(count):
        n = start + i
        commune = communes[n % len(communes)]
        # Half by postal code, half by a commune name the index finds back exactly.
        exact = load_communes().named(commune.name)
        by_name = n % 2 == 1 and exact and exact[0].insee == commune.insee
        first, last = rng.choice(FIRST), rng.choice(LAST)
        out.append(Company(
            siret=siret(n), name=f"{rng.choice(['Atelier', 'Maison', 'Société', 'Garage', 'Boulangerie'])} {last} {n}",
            contact=f"{first} {last}", email=f"contact{n}@entreprise{n % 97}.fr",
            place=commune.name if by_name else commune.postal_code, naf=rng.choice(NAFS),
            jobs="; ".join(rng.sample(JOBS, rng.randint(0, 2))), commune=commune))
    return out


def csv_text(rows: list[list[str]], delimiter: str = ";") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue()


def row_of(c: Company) -> list[str]:
    return [c.siret, c.name, c.contact, c.email, c.place, c.naf, c.jobs]


def import_text(engine: Engine, text: str, name: str, partner: str | None = None, **kw) -> ImportReport:
    names, rows = read_table(text)
    with unit_of_work(engine) as session:
        return import_rows(session, rows, names, campaign_name=name, partner=partner, communes=load_communes(),
                           address_hash=TOKENS.hash, now=utcnow(), **kw)


def count(engine: Engine, model) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def invitation_states(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        table = CampaignInvitation.__table__  # type: ignore[attr-defined]
        rows = session.execute(select(table.c.status, func.count()).group_by(table.c.status)).all()
    return {status: int(n) for status, n in rows}


def campaign_id(engine: Engine, name: str) -> str:
    with Session(engine) as session:
        return session.execute(select(Campaign.id).where(Campaign.name == name)).scalar_one()


def contacts(engine: Engine) -> list[CampaignContact]:
    with Session(engine) as session:
        return list(session.scalars(select(CampaignContact).order_by(CampaignContact.line)))


def prepare_all(engine: Engine, name: str) -> None:
    """The invitation rows of every contact of the campaign, as `campaign send --all-academies` writes first."""
    with unit_of_work(engine) as session:
        campaign = repository.campaign_by_name(session, name)
        assert campaign is not None
        invitations.prepare(session, campaign, pilot=frozenset(), all_academies=True, address_hash=TOKENS.hash,
                            domain="mlp.test")
