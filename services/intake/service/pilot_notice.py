"""The form's pilot step (issue 20): outside the pilot académies the company sees the notice before
its request is stored — under the place field with JavaScript, on a confirmation step without."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.reference.geo import CommuneIndex
from shared.reference.pilot import Pilot, academie_of


@dataclass(frozen=True, slots=True)
class PilotCheck:
    academie: str | None
    notice: str

    @property
    def seen(self) -> str:
        """The form's ``pilote_vu`` value once this notice was shown: the notice is for one académie."""
        return self.academie or "national"


def pilot_check(communes: CommuneIndex, pilot: Pilot, location: Mapping[str, object]) -> PilotCheck | None:
    """None inside the pilot (or when the place is unknown: the form reports that first)."""
    postal, insee = (
        value if isinstance(value, str) and value else None
        for value in (location.get("postal_code"), location.get("commune_insee"))
    )
    if communes.resolve(postal, insee) is None:
        return None
    academie = academie_of(communes, postal, insee)
    notice = pilot.notice(academie)
    return PilotCheck(academie, notice) if notice else None
