"""``monlyceepro retention``: anonymise requests older than the retention period (and erase the
campaigns' contacts past theirs); ``monlyceepro campaign``: services/intake/campaigns/cli.py."""

from __future__ import annotations

import argparse

from services.intake import pilot_cli
from services.intake.campaigns.cli import campaign
from services.intake.config import get_intake_settings
from services.intake.migrations import SCHEMA
from services.intake.partners import cli as partner_cli
from services.intake.tasks import run_contact_retention, run_retention
from shared.platform.db import make_engine
from shared.platform.migrations import check_schema


def retention(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="monlyceepro retention",
        description="Anonymise les demandes plus anciennes que la durée de conservation (MLP_RETENTION_DAYS).",
    )
    parser.add_argument("--jours", type=int, default=None, help="durée de conservation en jours (défaut : réglage)")
    args = parser.parse_args(argv)
    settings = get_intake_settings()
    if args.jours is not None:
        if args.jours < 1:
            parser.error("--jours doit être un entier positif")
        settings = settings.model_copy(update={"retention_days": args.jours})
    engine = make_engine(settings.database_url_for("intake"))
    check_schema(SCHEMA, engine, upgrade_empty=settings.env != "prod")
    count = run_retention(engine, settings)
    print(f"{count} demande(s) anonymisée(s) (conservation : {settings.retention_days} jours). "
          "Les événements request.erased partiront avec le service intake.")
    contacts = run_contact_retention(engine, settings)
    print(f"{contacts} contact(s) de campagne supprimé(s) (conservation : "
          f"{settings.campaign_contact_retention_days} jours après la dernière invitation).")
    return 0


# The `monlyceepro` sub-commands this service brings (composed by services/cli.py).
COMMANDS = {
    "retention": (retention, "anonymiser les demandes au-delà de la durée de conservation"),
    "campaign": (campaign, "campagnes d'invitation : import FICHIER.csv, send NOM, stats [NOM]"),
    **partner_cli.COMMANDS,
    **pilot_cli.COMMANDS,
}
