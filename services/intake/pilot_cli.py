"""``monlyceepro pilot``: show or change the pilot académies without restarting anything.

The change is one Redis key (``shared.platform.pilot_live``); every intake instance reads it within
``MLP_PILOT_REFRESH_S``. ``reset`` deletes it: the setting ``MLP_PILOT_ACADEMIES`` applies again.
"""

from __future__ import annotations

import argparse

import redis

from services.intake.config import get_intake_settings
from shared.platform.pilot_live import read_override, write_override
from shared.platform.redis_conn import redis_client_sync
from shared.reference.pilot import Pilot, UnknownAcademie, parse_pilot_from_data


class ChangeRefused(ValueError):
    """A change that would not do what the operator means; the message is French."""


def _describe(pilot: Pilot) -> str:
    return "toutes les académies (pas de liste pilote)" if pilot.everywhere else ", ".join(pilot.academies)


def _changed(current: Pilot, action: str, value: str, data_dir) -> Pilot | None:
    """The new pilot for set/add/remove/clear; None for reset (back to the setting)."""
    if action == "reset":
        return None
    if action == "clear":
        return Pilot()
    given = parse_pilot_from_data(value, data_dir)
    if action == "set":
        return given
    if action == "add":
        return parse_pilot_from_data([*current.academies, *given.academies], data_dir)
    if current.everywhere:
        raise ChangeRefused(
            "La liste pilote est vide (toutes les académies) : il n'y a rien à retirer. "
            "Donnez d'abord la liste avec « pilot set »."
        )
    missing = [a for a in given.academies if a not in current.academies]
    if missing:
        raise ChangeRefused(f"Pas dans la liste pilote actuelle : {', '.join(missing)}.")
    kept = [a for a in current.academies if a not in given.academies]
    if not kept:
        raise ChangeRefused(
            "Retirer toutes les académies ouvrirait le service partout : utilisez « pilot clear » "
            "si c'est bien votre intention."
        )
    return Pilot(tuple(kept))


def pilot(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="monlyceepro pilot",
        description="Académies pilotes (routage complet vers les lycées), modifiables sans redémarrage. "
        "Hors de ces académies, les demandes vont au référent entreprises de l'académie.",
    )
    parser.add_argument(
        "action",
        choices=("show", "set", "add", "remove", "clear", "reset"),
        help=(
            "show : afficher ; set A,B : remplacer la liste ; add A / remove A : ajouter ou retirer ; "
            "clear : ouvrir partout ; reset : revenir au réglage MLP_PILOT_ACADEMIES"
        ),
    )
    parser.add_argument(
        "academies", nargs="?", default="", help="noms ou codes d'académies, séparés par des virgules"
    )
    args = parser.parse_args(argv)
    if args.action in ("set", "add", "remove") and not args.academies.strip():
        parser.error(f"« pilot {args.action} » demande une ou plusieurs académies (ex. « Lyon,Créteil »)")
    settings = get_intake_settings()
    configured = parse_pilot_from_data(settings.pilot_academies, settings.data_dir)
    client = redis_client_sync(settings.redis_url)
    try:
        stored = read_override(client)
        current = configured if stored is None else parse_pilot_from_data(stored, settings.data_dir)
        if args.action != "show":
            new = _changed(current, args.action, args.academies, settings.data_dir)
            write_override(client, new)
            current = configured if new is None else new
            stored = None if new is None else new.as_text()
    except (UnknownAcademie, ChangeRefused) as exc:
        print(f"Erreur : {exc}")
        return 2
    except (redis.RedisError, OSError):
        print("Erreur : Redis est injoignable (MLP_REDIS_URL) ; la liste pilote n'a pas changé.")
        return 1
    finally:
        client.close()
    print(f"Académies pilotes : {_describe(current)}")
    print(f"Réglage MLP_PILOT_ACADEMIES : {_describe(configured)}")
    print(
        "Source : "
        + (
            "modification par la commande « pilot » (« pilot reset » pour revenir au réglage)"
            if stored is not None
            else "le réglage"
        )
    )
    if args.action != "show":
        print(f"Chaque service l'applique dans les {settings.pilot_refresh_s:g} s, sans redémarrage.")
    return 0


COMMANDS = {"pilot": (pilot, "académies pilotes : show, set A,B, add A, remove A, clear, reset")}
