"""Upcoming events open to companies near a place (the public « agenda » page and its JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.catalog.models import Lycee, ProfileEvent
from services.catalog.service.readmodel import ReadModel
from shared.reference.geo import Commune, haversine_km, territory_of


@dataclass(frozen=True)
class NearbyEvent:
    event: ProfileEvent
    lycee: Lycee
    distance_km: float | None


def upcoming_near(model: ReadModel, commune: Commune | None, radius_km: float, today: date,
                  limit: int = 100) -> list[NearbyEvent]:
    """Events not over yet, soonest first; within ``radius_km`` of the commune (same territory) when given."""
    found: list[NearbyEvent] = []
    territory = territory_of(commune.departement) if commune else None
    for uai, extras in model.extras.items():
        lycee = model.lycees.get(uai)
        if lycee is None:
            continue
        events = extras.upcoming(today)
        if not events:
            continue
        distance = None
        if commune is not None:
            if (lycee.latitude is None or lycee.longitude is None or commune.latitude is None
                    or commune.longitude is None or lycee.territory != territory):
                continue
            distance = haversine_km(commune.latitude, commune.longitude, lycee.latitude, lycee.longitude)
            if distance > radius_km:
                continue
        found += [NearbyEvent(e, lycee, round(distance, 1) if distance is not None else None) for e in events]
    found.sort(key=lambda n: (n.event.starts_on, n.distance_km or 0.0, n.lycee.name))
    return found[:limit]
