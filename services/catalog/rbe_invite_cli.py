"""``monlyceepro rbe-invite send|remind|status``: the « Désignez votre RBE » campaign to the lycées' official
addresses (issue 22). Throttled, resumable after a crash without duplicates (``shared.platform.mailing``),
reminders 7 and 21 days after the invitation, nothing more once the lycée's RBE is confirmed."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from services.catalog.models import INVITE_MAILING
from services.catalog.tasks import plan_rbe_invitations, plan_rbe_reminders, rbe_invite_status, rbe_mailer
from shared.platform.clock import utcnow
from shared.platform.mailing import MailingReport
from shared.platform.settings import get_settings

KIND_LABELS = {
    "invitation": "invitations",
    "relance-7": "relances à 7 jours",
    "relance-21": "relances à 21 jours",
}
STATUS_LABELS = {
    "pending": "en attente",
    "sending": "en cours",
    "sent": "envoyée(s)",
    "dead": "en échec définitif",
    "cancelled": "annulée(s) (RBE déjà confirmé)",
    "uncertain": "incertaine(s)",
}


def _date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"date illisible : « {text} » (ex. 2027-01-15T09:00)") from None
    return value if value.tzinfo else value.replace(tzinfo=utcnow().tzinfo)


def _rate(text: str) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"débit illisible : « {text} » (messages par minute, ex. 30)")
    return value


def _send(args: argparse.Namespace, engine, now: datetime | None) -> MailingReport:
    settings = get_settings()

    def progress(report: MailingReport) -> None:
        if report.sent % 50 == 0:
            print(f"  … {report.sent} envoyée(s)", flush=True)

    clock = (lambda: now) if now is not None else utcnow
    mailer = rbe_mailer(
        engine,
        settings,
        INVITE_MAILING,
        academie=args.academie,
        rate_per_min=args.rate,
        clock=clock,
        progress=progress,
        lease_s=args.bail,
    )
    return asyncio.run(mailer.run(retry_uncertain=args.retry_uncertain))


def _print_report(report: MailingReport) -> None:
    print(
        f"Cet envoi : {report.sent} envoyée(s), {report.cancelled} annulée(s) (RBE confirmé entre-temps), "
        f"{report.retried} refus temporaire(s) à réessayer."
    )
    if report.total("uncertain"):
        print(
            f"{report.total('uncertain')} envoi(s) à l'issue incertaine (interrompus pendant la remise au serveur "
            "SMTP) : cherchez leur Message-ID dans le journal du relais ; ceux qu'il n'a pas reçus partent avec "
            "« monlyceepro rbe-invite send --retry-uncertain »."
        )
    if report.smtp_down:
        print(
            "Le serveur SMTP est injoignable : relancez la commande plus tard, rien ne sera envoyé deux fois."
        )


def rbe_invite(argv: list[str]) -> int:
    from services.catalog.cli import _engine

    parser = argparse.ArgumentParser(
        prog="monlyceepro rbe-invite",
        description=(
            "Inviter chaque lycée, à son adresse officielle, à désigner son ou sa RBE (« Désignez votre RBE »)."
        ),
    )
    sub = parser.add_subparsers(dest="action", required=True)
    send = sub.add_parser(
        "send", help="envoyer les invitations (reprend là où un envoi interrompu s'est arrêté)"
    )
    send.add_argument("--academie", help="une seule académie (ex. Lyon)")
    send.add_argument("--rate", type=_rate, default=30.0, help="messages par minute (défaut 30)")
    send.add_argument(
        "--renvoyer",
        action="store_true",
        help="nouvel envoi aux lycées sans RBE confirmé (par exemple d'une académie)",
    )
    send.add_argument(
        "--retry-uncertain",
        action="store_true",
        help="renvoyer les envois incertains (après vérification dans le journal du relais)",
    )
    remind = sub.add_parser(
        "remind", help="relancer, 7 puis 21 jours après l'invitation, les lycées sans RBE confirmé"
    )
    remind.add_argument("--academie")
    remind.add_argument("--rate", type=_rate, default=30.0, help="messages par minute (défaut 30)")
    remind.add_argument("--retry-uncertain", action="store_true", help=argparse.SUPPRESS)
    status = sub.add_parser("status", help="où en est la campagne")
    status.add_argument("--academie")
    for action in (send, remind, status):
        action.add_argument("--database-url", default=None)
        action.add_argument(
            "--maintenant", type=_date, default=None, help=argparse.SUPPRESS
        )  # tests, rehearsals
        action.add_argument("--bail", type=float, default=120.0, help=argparse.SUPPRESS)  # lease (s): tests
    args = parser.parse_args(argv)
    engine = _engine(args.database_url)
    settings = get_settings()
    try:
        if args.action == "status":
            return _status(engine, args.academie)
        if args.action == "send":
            added = plan_rbe_invitations(engine, settings, args.academie, args.renvoyer, args.maintenant)
            print(f"{added} invitation(s) ajoutée(s) à l'envoi.")
        else:
            added_by_kind = plan_rbe_reminders(engine, settings, args.academie, args.maintenant)
            print(
                "Relances ajoutées : "
                + ", ".join(f"{n} {KIND_LABELS[k]}" for k, n in added_by_kind.items())
                + "."
            )
        _print_report(_send(args, engine, args.maintenant))
        return 0
    finally:
        engine.dispose()


def _status(engine, academie: str | None) -> int:
    rows, nominations = rbe_invite_status(engine, academie)
    if not rows:
        print("Aucune invitation préparée" + (f" pour l'académie {academie}." if academie else "."))
    by_kind: dict[str, list[str]] = {}
    for kind, status, count in rows:
        by_kind.setdefault(kind, []).append(f"{count} {STATUS_LABELS.get(status, status)}")
    for kind, parts in by_kind.items():
        print(f"{KIND_LABELS.get(kind, kind).capitalize()} : {', '.join(parts)}.")
    print(
        f"RBE désignés : {nominations.get('pending', 0)} en attente de confirmation, "
        f"{nominations.get('confirmed', 0)} confirmé(s), {nominations.get('replaced', 0)} remplacé(s)."
    )
    return 0
