"""``monlyceepro partner …``: register partners, their origins and their API keys; read their summary."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import Engine

from services.intake.config import get_intake_settings
from services.intake.migrations import SCHEMA
from services.intake.partners import admin
from services.intake.partners.keys import SCOPES, key_secret
from services.intake.partners.summary import DEFAULT_PERIOD, PERIODS
from shared.platform.db import make_engine
from shared.platform.migrations import check_schema

REFRESH_NOTE = "Les services intake en tiennent compte sous {s:g} s (MLP_PARTNER_REFRESH_S) pour CORS, aussitôt ailleurs."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="monlyceepro partner", description=(
        "Les partenaires : leur formulaire intégré (/integrer/SLUG), leurs clés d'API et leur bilan."))
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="enregistrer un partenaire")
    add.add_argument("slug", help="identifiant (a-z, 0-9, -), ex. les-entreprises-s-engagent")
    add.add_argument("--nom", required=True, help="nom affiché au-dessus du formulaire")
    add.add_argument("--origine", action="append", default=[], metavar="URL",
                     help="site autorisé à intégrer le formulaire et à appeler l'API (répétable), ex. https://www.exemple.fr")
    sub.add_parser("list", help="lister les partenaires")
    origins = sub.add_parser("origins", help="voir ou changer les sites autorisés d'un partenaire")
    origins.add_argument("slug")
    origins.add_argument("--ajouter", action="append", default=[], metavar="URL")
    origins.add_argument("--retirer", action="append", default=[], metavar="URL")
    for name, text in (("disable", "désactiver un partenaire (formulaire, clés et CORS refusés)"),
                       ("enable", "réactiver un partenaire")):
        sub.add_parser(name, help=text).add_argument("slug")
    stats = sub.add_parser("stats", help="bilan privé : demandes, transmises, avec réponse, délai médian")
    stats.add_argument("slug")
    stats.add_argument("--periode", choices=list(PERIODS), default=DEFAULT_PERIOD)
    key = sub.add_parser("key", help="clés d'API : create, list, revoke")
    key_sub = key.add_subparsers(dest="key_action", required=True, metavar="ACTION")
    create = key_sub.add_parser("create", help="créer une clé (affichée une seule fois)")
    create.add_argument("slug")
    create.add_argument("--scopes", default=",".join(SCOPES), help=f"portées séparées par des virgules ({', '.join(SCOPES)})")
    create.add_argument("--libelle", default=None, help="à quoi sert la clé (ex. « site de production »)")
    key_sub.add_parser("list", help="les clés d'un partenaire").add_argument("slug")
    key_sub.add_parser("revoke", help="révoquer une clé par son préfixe").add_argument("prefix", help="ex. mlp_3f9a2c1b")
    return parser


def _engine() -> Engine:
    settings = get_intake_settings()
    engine = make_engine(settings.database_url_for("intake"))
    check_schema(SCHEMA, engine, upgrade_empty=settings.env != "prod")
    return engine


def _print_stats(figures: dict) -> None:
    def line(label: str, f: dict) -> str:
        median = f["median_hours_to_first_answer"]
        delay = f"{median:g} h".replace(".", ",") if median is not None else "—"
        return (f"  {label:26s} {f['requests']:6d} demande(s), {f['routed']:6d} transmise(s), "
                f"{f['answered']:6d} avec réponse, délai médian {delay}")
    print(f"{figures['name']} ({figures['partner']}) — {figures['period_label']}")
    print(line("total", figures["totals"]))
    for source in figures["by_source"]:
        print(line(source["label"], source))


def run(args: argparse.Namespace, engine: Engine) -> None:
    settings = get_intake_settings()
    if args.action == "add":
        partner = admin.add_partner(engine, args.slug, args.nom, args.origine)
        print(f"Partenaire {partner.slug} enregistré : {partner.name}.")
        print(f"  sites autorisés : {', '.join(partner.origins) or 'aucun (le formulaire ne s’affichera nulle part)'}")
        print(f"  formulaire intégré : {settings.public_base_url.rstrip('/')}/integrer/{partner.slug}")
        print(f"  code à coller : {settings.public_base_url.rstrip('/')}/integrer/{partner.slug}/code")
    elif args.action == "list":
        for partner, active in admin.list_partners(engine):
            state = "désactivé" if partner.disabled_at else "actif"
            print(f"{partner.slug:30s} {state:10s} {active} clé(s) active(s)  {partner.name}  "
                  f"[{' '.join(partner.origins) or 'aucun site'}]")
    elif args.action == "origins":
        origins = admin.change_origins(engine, args.slug, args.ajouter, args.retirer)
        print(f"Sites autorisés pour {args.slug} : {', '.join(origins) or 'aucun'}")
        if args.ajouter or args.retirer:
            print(REFRESH_NOTE.format(s=settings.partner_refresh_s))
    elif args.action in {"disable", "enable"}:
        partner = admin.set_enabled(engine, args.slug, args.action == "enable")
        print(f"Partenaire {partner.slug} {'réactivé' if args.action == 'enable' else 'désactivé'}.")
        print(REFRESH_NOTE.format(s=settings.partner_refresh_s))
    elif args.action == "stats":
        _print_stats(admin.stats(engine, args.slug, args.periode))
    elif args.key_action == "create":
        secret = key_secret(settings.partner_key_secret or settings.secret_key)
        created = admin.create_key(engine, secret, args.slug, args.scopes, args.libelle)
        print(f"Clé créée pour {created.partner} (portées : {', '.join(created.scopes)}) :\n\n  {created.key}\n")
        print("Elle n'est affichée qu'une fois : transmettez-la au partenaire par un canal sûr. "
              f"Préfixe pour la retrouver ou la révoquer : {created.prefix}")
    elif args.key_action == "list":
        for key in admin.list_keys(engine, args.slug):
            state = f"révoquée le {key.revoked_at:%d/%m/%Y}" if key.revoked_at else "active"
            print(f"{key.prefix}  {state:22s} {key.scopes:14s} créée le {key.created_at:%d/%m/%Y}  {key.label or ''}")
    elif args.key_action == "revoke":
        key = admin.revoke_key(engine, args.prefix)
        print(f"Clé {key.prefix} de {key.partner} révoquée : elle est refusée dès maintenant.")


def partner(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    engine = _engine()
    try:
        run(args, engine)
    except admin.AdminError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


COMMANDS = {"partner": (partner, "partenaires : formulaire intégré, clés d'API, origines, bilan")}
