"""``monlyceepro campaign``: import a company file, send the invitations, show the funnel."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

import structlog
from sqlalchemy import Engine
from sqlmodel import Session

from services.intake.campaigns import funnel, invitations, repository
from services.intake.campaigns.importer import FileProblem, decode, import_rows, read_table
from services.intake.campaigns.models import CampaignInvitation
from services.intake.campaigns.pilot import live_override, pilot_academies
from services.intake.campaigns.tokens import tokens_for
from services.intake.config import IntakeSettings, get_intake_settings
from services.intake.migrations import SCHEMA
from shared.platform.clock import utcnow
from shared.platform.db import make_engine, table_of, unit_of_work
from shared.platform.logging import configure_logging
from shared.platform.mailing import LeasedMailer, MailingReport
from shared.platform.migrations import check_schema
from shared.reference.geo import load_communes

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
RATE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:/\s*(min|minute|h|heure|s|sec))?\s*$", re.I)
PER_MINUTE = {None: 1.0, "min": 1.0, "minute": 1.0, "h": 1 / 60, "heure": 1 / 60, "s": 60.0, "sec": 60.0}
SHOWN_UNCERTAIN = 20


def parse_rate(text: str) -> float:
    """« 30/min », « 30 », « 600/h » or « 2/s » -> invitations per minute."""
    match = RATE.match(text)
    if not match or float(match[1].replace(",", ".")) <= 0:
        raise argparse.ArgumentTypeError(f"débit illisible : « {text} » (ex. 30/min)")
    unit = match[2].lower() if match[2] else None
    return float(match[1].replace(",", ".")) * PER_MINUTE[unit]


def _engine(settings: IntakeSettings) -> Engine:
    engine = make_engine(settings.database_url_for("intake"))
    check_schema(SCHEMA, engine, upgrade_empty=settings.env != "prod")
    return engine


# ------------------------------------------------------------------ import
def import_command(settings: IntakeSettings, args: argparse.Namespace) -> int:
    if args.partner is not None and not SLUG.match(args.partner):
        print(f"--partner : « {args.partner} » n'est pas un identifiant de partenaire (minuscules, chiffres et tirets, "
              "40 caractères au plus, ex. les-entreprises-s-engagent).", file=sys.stderr)
        return 2
    if not args.name.strip() or len(args.name) > 120:
        print("--name : donnez un nom de campagne de 1 à 120 caractères.", file=sys.stderr)
        return 2
    path = Path(args.file)
    try:
        names, rows = read_table(decode(path.read_bytes()))
    except OSError as exc:
        print(f"Fichier illisible : {path} ({exc.strerror or exc}).", file=sys.stderr)
        return 2
    except FileProblem as exc:
        print(f"{path} : {exc} Rien n'a été importé.", file=sys.stderr)
        return 2
    engine = _engine(settings)
    tokens = tokens_for(settings)
    communes = load_communes(settings.data_dir)
    try:
        with unit_of_work(engine) as session:  # every accepted row, or none
            report = import_rows(session, rows, names, campaign_name=args.name, partner=args.partner,
                                 communes=communes, address_hash=tokens.hash, now=utcnow(), dry_run=args.verifier)
    except FileProblem as exc:
        print(f"{exc} Rien n'a été importé.", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(report.summary())
    return 0


# ------------------------------------------------------------------ send
def send_command(settings: IntakeSettings, args: argparse.Namespace) -> int:
    engine = _engine(settings)
    try:
        return _send(engine, settings, args)
    finally:
        engine.dispose()


def _send(engine: Engine, settings: IntakeSettings, args: argparse.Namespace) -> int:
    tokens = tokens_for(settings)
    pilot = pilot_academies(settings, live_override(settings.redis_url))
    with unit_of_work(engine) as session:
        campaign = repository.campaign_by_name(session, args.name)
        if campaign is None:
            print(f"Campagne inconnue : « {args.name} » (monlyceepro campaign stats les liste).", file=sys.stderr)
            return 2
        prepared = invitations.prepare(session, campaign, pilot=pilot, all_academies=args.all_academies,
                                       address_hash=tokens.hash, domain=invitations.mail_domain(settings.mail_from))
    scope = "toutes les académies" if args.all_academies or not pilot else f"{len(pilot)} académie(s) pilote(s)"
    print(f"Campagne « {campaign.name} » ({scope}) : {prepared.created} invitation(s) ajoutée(s) à l'envoi.")
    if prepared.outside_pilot:
        print(f"{prepared.outside_pilot} contact(s) hors des académies pilotes : non invité(s) "
              "(--all-academies pour les inviter aussi).")
    if prepared.unsubscribed:
        print(f"{prepared.unsubscribed} contact(s) désinscrit(s) depuis l'import : supprimé(s), non invité(s).")
    rate = args.rate or settings.campaign_rate_per_min
    print(f"Envoi : {rate:g} par minute au plus.", flush=True)

    def progress(report: MailingReport) -> None:
        if report.sent % 50 == 0:
            print(f"  … {report.sent} envoyée(s)", flush=True)

    composer = invitations.InvitationComposer(tokens, base_url=settings.public_base_url, mail_from=settings.mail_from,
                                              retention_days=settings.campaign_contact_retention_days)
    mailer = LeasedMailer(
        engine, table_of(CampaignInvitation), campaign.id, composer, smtp_url=settings.smtp_url, rate_per_min=rate,
        lease_s=settings.campaign_lease_s, max_attempts=settings.campaign_max_attempts,
        retry_base_s=settings.campaign_retry_base_s, max_wait_s=settings.campaign_retry_wait_s, progress=progress)
    report = asyncio.run(mailer.run(retry_uncertain=args.retry_uncertain))
    print(f"Cet envoi : {report.sent} envoyée(s), {report.cancelled} annulée(s) (désinscription ou suppression), "
          f"{report.retried} refus temporaire(s) à réessayer.")
    print(f"État de la campagne : {report.total('sent')} envoyée(s), {report.total('pending')} en attente, "
          f"{report.total('uncertain')} incertaine(s), {report.total('dead')} en échec définitif, "
          f"{report.total('cancelled')} annulée(s), {report.total('sending')} en cours ailleurs.")
    if report.total("uncertain"):
        with Session(engine) as session:
            ids = repository.uncertain_message_ids(session, campaign.id, SHOWN_UNCERTAIN)
        print(f"{report.total('uncertain')} invitation(s) à l'issue incertaine : l'envoi s'est arrêté pendant leur "
              "remise au serveur SMTP. Cherchez leur Message-ID dans le journal du relais ; celles qu'il n'a pas "
              f"reçues partent avec « monlyceepro campaign send {campaign.name} --retry-uncertain ».")
        for message_id in ids:
            print(f"  {message_id}")
    if report.total("sending"):
        print(f"{report.total('sending')} invitation(s) en cours d'envoi par un autre processus, ou par un processus "
              f"arrêté : relancez la commande après {settings.campaign_lease_s:g} s.")
    if report.smtp_down:
        print("Le serveur SMTP ne répond pas : relancez la commande plus tard (rien n'est perdu ni envoyé deux fois).",
              file=sys.stderr)
        return 1
    if report.total("pending"):
        print(f"{report.total('pending')} invitation(s) attendent un nouvel essai : relancez la commande plus tard.")
    return 0


# ------------------------------------------------------------------ stats
def stats_command(settings: IntakeSettings, args: argparse.Namespace) -> int:
    engine = _engine(settings)
    try:
        with Session(engine) as session:
            found = funnel.funnels(session, args.name)
    finally:
        engine.dispose()
    if args.name and not found:
        print(f"Campagne inconnue : « {args.name} ».", file=sys.stderr)
        return 2
    print(funnel.render(found))
    return 0


def campaign(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="monlyceepro campaign",
        description="Campagnes d'invitation à partir d'un fichier d'entreprises (docs/campaigns.md).")
    actions = parser.add_subparsers(dest="action", required=True, metavar="{import,send,stats}")
    imp = actions.add_parser("import", help="importer un fichier d'entreprises (CSV)",
                             description="Vérifie chaque ligne comme une demande, refuse les doublons, importe le reste "
                                         "en une transaction.")
    imp.add_argument("file", metavar="FICHIER.csv")
    imp.add_argument("--name", required=True, help="nom de la campagne (créée, ou complétée si elle existe)")
    imp.add_argument("--partner", default=None, help="identifiant (slug) du partenaire qui a fourni le fichier")
    imp.add_argument("--verifier", "--dry-run", action="store_true", help="vérifier seulement, ne rien enregistrer")
    send = actions.add_parser("send", help="envoyer les invitations (reprend là où un envoi interrompu s'est arrêté)")
    send.add_argument("name", metavar="NOM")
    send.add_argument("--rate", type=parse_rate, default=None,
                      help="débit maximal, ex. 30/min (défaut : MLP_CAMPAIGN_RATE_PER_MIN)")
    send.add_argument("--all-academies", action="store_true",
                      help="inviter aussi les contacts hors des académies pilotes (MLP_PILOT_ACADEMIES)")
    send.add_argument("--retry-uncertain", action="store_true",
                      help="renvoyer les invitations à l'issue incertaine (après vérification du journal du relais)")
    stats = actions.add_parser("stats", help="l'entonnoir par campagne et par académie")
    stats.add_argument("name", metavar="NOM", nargs="?")
    args = parser.parse_args(argv)
    settings = get_intake_settings()
    configure_logging("intake-campaign", settings.log_level, settings.log_json)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))  # stdout: the report
    command = {"import": import_command, "send": send_command, "stats": stats_command}[args.action]
    return command(settings, args)
