"""Coverage of the network (issue 22, item 2): the share of lycées with a confirmed RBE and with a completed
profile, by académie and département, from the read model (no query: it is rebuilt on every change).

A lycée **has a confirmed RBE** when its routing contact is a named person (a confirmed nomination, or an RBE
the directory held before confirmations existed), not its generic address. Its profile is **completed** when
the three parts routing and the public page rely on first are filled: services offered, PFMP periods and the
pitch (``service.profile.completeness``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from services.catalog.service.profile import completeness
from services.catalog.service.readmodel import ReadModel

COMPLETE_PARTS = frozenset({"services", "pfmp", "pitch"})


@dataclass
class CoverageLine:
    academie: str
    departement: str  # its code (« 69 ») ; empty on an académie's total
    lycees: int = 0
    with_rbe: int = 0
    profile_complete: int = 0

    @property
    def rbe_share(self) -> float:
        return round(self.with_rbe / self.lycees, 4) if self.lycees else 0.0

    @property
    def profile_share(self) -> float:
        return round(self.profile_complete / self.lycees, 4) if self.lycees else 0.0


@dataclass
class NetworkCoverage:
    total: CoverageLine
    academies: list[CoverageLine] = field(default_factory=list)
    departements: list[CoverageLine] = field(default_factory=list)


def _add(line: CoverageLine, named: bool, complete: bool) -> None:
    line.lycees += 1
    line.with_rbe += named
    line.profile_complete += complete


def network_coverage(model: ReadModel, today: date) -> NetworkCoverage:
    total = CoverageLine("", "")
    academies: dict[str, CoverageLine] = {}
    departements: dict[tuple[str, str], CoverageLine] = {}
    for uai, lycee in model.lycees.items():
        contact = model.contacts.get(uai)
        named = contact is not None and not contact.is_generic
        filled = set(completeness(model.settings.get(uai), model.extras.get(uai), today).filled)
        complete = COMPLETE_PARTS <= filled
        academie = lycee.academie or "inconnue"
        _add(total, named, complete)
        _add(academies.setdefault(academie, CoverageLine(academie, "")), named, complete)
        key = (academie, lycee.departement_code or "?")
        _add(departements.setdefault(key, CoverageLine(*key)), named, complete)
    return NetworkCoverage(
        total,
        sorted(academies.values(), key=lambda c: c.academie),
        sorted(departements.values(), key=lambda c: (c.academie, c.departement)),
    )
