"""The labelled job cases (job_cases.csv) and the helpers shared by the harness, the checker and the tests."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from shared.reference.geo import DATA_DIR, fold

HERE = Path(__file__).resolve().parent
CASES_CSV = HERE / "job_cases.csv"
HOLDOUT_CSV = HERE / "job_cases_holdout.csv"  # held out: never look at its failures while tuning
COLUMNS = ["domain", "text", "kind", "commune_insee", "romes", "formation_patterns", "note"]
DOMAINS = {
    "batiment", "alimentation", "sante_social", "commerce", "logistique", "industrie", "hotellerie_restauration",
    "bureau_gestion", "agriculture", "transport", "beaute", "automobile", "numerique_electronique", "outre_mer",
}
BIG_DOMAINS = {"batiment", "industrie", "hotellerie_restauration", "commerce", "sante_social"}
KINDS = {"exact", "typo", "abbreviation", "feminine", "plural", "multi_word", "vague", "child_fiche"}
OVERSEAS_DEPTS = ("971", "972", "973", "974", "976")
MIN_PER_DOMAIN, MIN_PER_BIG_DOMAIN = 12, 15
MIN_PER_KIND = {"typo": 20, "abbreviation": 15, "feminine": 20, "plural": 15, "multi_word": 30, "vague": 15,
                "child_fiche": 15}


@dataclass(frozen=True, slots=True)
class JobCase:
    line: int  # line number in the CSV (header = 1)
    domain: str
    text: str
    kind: str
    commune_insee: str
    romes: frozenset[str]
    patterns: tuple[str, ...]
    note: str

    def compiled(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.patterns]


def split_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def load_cases(path: Path = CASES_CSV) -> list[JobCase]:
    with open(path, encoding="utf-8", newline="") as fh:
        return [
            JobCase(line=i, domain=row["domain"].strip(), text=row["text"], kind=row["kind"].strip(),
                    commune_insee=row["commune_insee"].strip(), romes=frozenset(split_list(row["romes"])),
                    patterns=tuple(split_list(row["formation_patterns"])), note=row.get("note") or "")
            for i, row in enumerate(csv.DictReader(fh), start=2)
        ]


def formation_key(diploma: str, label: str) -> str:
    """The folded text the patterns are matched against: 'CAP' + 'Boulanger' -> 'cap boulanger'."""
    return fold(f"{diploma} {label}")


def csv_formation_keys(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """cfd -> folded 'diplome label' from data/formations.csv (label = intitule_specialite, else libelle_long)."""
    with open(data_dir / "formations.csv", encoding="utf-8", newline="") as fh:
        return {row["cfd"]: formation_key(row["diplome"], row["intitule_specialite"].strip() or row["libelle_long"])
                for row in csv.DictReader(fh)}


def tronc_commun_cfds(data_dir: Path = DATA_DIR) -> frozenset[str]:
    """Common first-year codes ('2nde commune', 'BTS 1re année commune'): role tronc_commun in
    data/groupes_formation.csv, or so named in data/formations.csv (ASSP, MV… are in no BCN group)."""
    with open(data_dir / "groupes_formation.csv", encoding="utf-8", newline="") as fh:
        grouped = {row["cfd"] for row in csv.DictReader(fh) if row["role"] == "tronc_commun"}
    with open(data_dir / "formations.csv", encoding="utf-8", newline="") as fh:
        named = {row["cfd"] for row in csv.DictReader(fh) if re.search(r"2NDE COMMUNE|ANNEE COMMUNE", row["libelle_long"])}
    return frozenset(grouped | named)


def matching_cfds(patterns: list[re.Pattern[str]], keys: dict[str, str]) -> set[str]:
    return {cfd for cfd, key in keys.items() if any(p.search(key) for p in patterns)}
