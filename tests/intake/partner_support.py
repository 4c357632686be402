"""What the partner tests share: a registered partner with its keys, on the app behind a client."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from services.intake.partners import admin
from tests.intake.support import engine_of


@dataclass(frozen=True)
class Registered:
    slug: str
    key: str  # scopes submit and status
    prefix: str


def register(client: TestClient, slug: str = "lese", name: str = "Les Entreprises s'Engagent",
             origins: tuple[str, ...] = ("https://www.lesentreprises-sengagent.gouv.fr",),
             scopes: str = "submit,status") -> Registered:
    """A partner and one key, through the admin functions the CLI runs; the CORS copy is reloaded."""
    engine = engine_of(client)
    admin.add_partner(engine, slug, name, list(origins))
    created = admin.create_key(engine, client.app.state.partners.secret, slug, scopes)
    reload(client)
    return Registered(slug, created.key, created.prefix)


def new_key(client: TestClient, slug: str, scopes: str) -> str:
    return admin.create_key(engine_of(client), client.app.state.partners.secret, slug, scopes).key


def reload(client: TestClient) -> None:
    """What the refresh task does every MLP_PARTNER_REFRESH_S seconds."""
    client.app.state.partners.registry.load(engine_of(client))
