"""Reading the open data in data/ into catalog rows (pure functions, no database).

Pitfalls handled here (see data/README.md): codes kept as strings, French dates, labels
cleaned for company readers, "hors contrat" private schools and BTS-only general lycées
flagged, overseas territories tagged, SEP / annexes linked to their mother lycée.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from shared.reference.geo import territory_of

LOADER_VERSION = "6"  # 6: ONISEP names of compound jobs kept whole (« mécanicien-outilleur »)
DATA_FILES = (
    "lycees.csv", "formations.csv", "lycee_formations.csv", "groupes_formation.csv", "rome.csv",
    "rome_appellations.csv", "rome_metiers_onisep.csv", "formation_rome.csv", "formation_mots_clefs.csv",
    "naf.csv", "naf_division_rome.csv", "insertion_lycees.csv", "communes.csv",
    "onisep_metiers.csv", "onisep_metiers_formations.csv", "sigles_metiers.csv",
)
VOCATIONAL_NATURES = {"320", "334", "306", "307", "332", "344"}
POST_BAC_PREFIXES = ("BTS", "ASSIMI.BTS", "DNMADE", "DSAA", "DTS", "CPGE")


def read_csv(path: Path) -> Iterator[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


def fingerprint(data_dir: Path) -> str:
    digest = hashlib.sha256(LOADER_VERSION.encode())
    for name in DATA_FILES:
        digest.update(name.encode())
        digest.update((data_dir / name).read_bytes())
    return digest.hexdigest()


def _float(value: str) -> float | None:
    try:
        return float(value) if value not in ("", "nd") else None
    except ValueError:
        return None


def _int(value: str) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def _date(value: str) -> date | None:
    m = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", value.strip())
    return date(int(m[3]), int(m[2]), int(m[1])) if m else None


_DIPLOMA_SUFFIX = re.compile(r"\s*\((?:[^()]*(?:CAP|BAC|BTS|BP|MC|CS|BMA|DMA|NIVEAU|BM|CTM|DNMADE|BT|FCIL)[^()]*)\)\s*$")


def clean_label(label_long: str) -> str:
    """'BOULANGERIE SPECIALISEE (MC NIVEAU III)' -> 'Boulangerie specialisee'."""
    text = _DIPLOMA_SUFFIX.sub("", label_long).strip() or label_long.strip()
    if text.isupper():
        text = text.lower()
        text = text[:1].upper() + text[1:]
    return text


@dataclass
class CatalogData:
    lycees: list[dict] = field(default_factory=list)
    formations: list[dict] = field(default_factory=list)
    offers: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    jobs: list[dict] = field(default_factory=list)
    job_titles: list[dict] = field(default_factory=list)
    formation_jobs: list[dict] = field(default_factory=list)
    keywords: list[dict] = field(default_factory=list)
    naf: list[dict] = field(default_factory=list)
    naf_jobs: list[dict] = field(default_factory=list)
    insertion: list[dict] = field(default_factory=list)
    communes: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "lycées": len(self.lycees), "formations": len(self.formations), "offres": len(self.offers),
            "métiers (ROME)": len(self.jobs), "appellations": sum(1 for t in self.job_titles if t["source"] == "appellation"),
            "métiers ONISEP": sum(1 for t in self.job_titles if t["source"] == "onisep"), "communes": len(self.communes),
        }


def read_catalog(data_dir: Path, today: date | None = None) -> CatalogData:
    today = today or date.today()
    data = CatalogData()
    offers_raw = list(read_csv(data_dir / "lycee_formations.csv"))
    mixed_case_labels: dict[str, str] = {}
    for row in offers_raw:
        label = row["libelle_formation"].strip()
        if label and not label.isupper():
            mixed_case_labels.setdefault(row["cfd"], label)

    formation_diploma: dict[str, tuple[str, int | None]] = {}
    for row in read_csv(data_dir / "formations.csv"):
        closed_on = _date(row["date_fermeture"])
        level = _int(row["niveau_europeen"])
        formation_diploma[row["cfd"]] = (row["diplome"], level)
        data.formations.append({
            "cfd": row["cfd"], "diploma": row["diplome"], "diploma_label": row["diplome_libelle"], "level": level,
            "label": row["intitule_specialite"].strip() or mixed_case_labels.get(row["cfd"]) or clean_label(row["libelle_long"]),
            "label_long": row["libelle_long"], "secteur_cpc": row["secteur_cpc"], "groupe_specialite": row["groupe_specialite"],
            "opened_on": _date(row["date_ouverture"]), "closed_on": closed_on,
            "successor_cfds": ";".join(c for c in row["remplace_par_cfd"].replace(",", ";").split(";") if c.strip()),
            "closed": closed_on is not None and closed_on < today,
        })

    offers_by_uai: dict[str, list[str]] = {}
    for row in offers_raw:
        capacity = _int(row["capacite_affelnet_2022"]) or _int(row["capacite_affelnet_2021"]) or _int(row["capacite_parcoursup_2024"])
        data.offers.append({
            "uai": row["uai"], "cfd": row["cfd"], "track": row["voie"] or "scolaire",
            "last_seen_year": _int(row["derniere_annee_vue"]), "capacity": capacity, "sources": row["sources"],
        })
        offers_by_uai.setdefault(row["uai"], []).append(row["cfd"])

    def post_bac_only(uai: str) -> bool:
        cfds = offers_by_uai.get(uai) or []
        if not cfds:
            return False
        for cfd in cfds:
            diploma, level = formation_diploma.get(cfd, ("", None))
            if not (diploma.startswith(POST_BAC_PREFIXES) or (level is not None and level >= 5)):
                return False
        return True

    for row in read_csv(data_dir / "lycees.csv"):
        vocational = row["nature_code"] in VOCATIONAL_NATURES or row["voie_professionnelle"] == "1"
        data.lycees.append({
            "uai": row["uai"], "name": row["nom"], "nature_code": row["nature_code"], "type_court": row["type_court"],
            "secteur": "prive" if row["secteur"] == "prive" else "public", "contrat_prive": row["contrat_prive"],
            "ministere": row["ministere_tutelle"], "address": row["adresse"], "postal_code": row["code_postal"],
            "commune_insee": row["code_commune_insee"], "commune": row["commune"],
            "departement_code": row["code_departement"], "departement": row["departement"],
            "academie_code": row["code_academie"], "academie": row["academie"], "region_code": row["code_region"],
            "region": row["region"], "latitude": _float(row["latitude"]), "longitude": _float(row["longitude"]),
            "voie_professionnelle": row["voie_professionnelle"] == "1", "apprentissage": row["apprentissage"] == "1",
            "parent_uai": row["uai_etablissement_mere"] or None, "rattachement": row["type_rattachement"],
            "telephone": row["telephone"], "mail": row["mail"].strip(), "web": row["web"], "fiche_onisep": row["fiche_onisep"],
            "formations_uai": row["uai_porteur_formations"] or None, "source_annuaire": row["source_annuaire"],
            "private_hors_contrat": row["contrat_prive"].upper().startswith("HORS CONTRAT"),
            "bts_only": not vocational and post_bac_only(row["uai"]),
            "vocational_core": vocational, "territory": territory_of(row["code_departement"]),
        })

    for row in read_csv(data_dir / "groupes_formation.csv"):
        data.groups.append({"group_code": row["groupe_formation"], "group_label": row["libelle_groupe"],
                            "cfd": row["cfd"], "role": row["role"]})
    for row in read_csv(data_dir / "rome.csv"):
        data.jobs.append({
            "rome": row["code_rome"], "label": row["libelle_rome"], "domain_code": row["code_domaine"],
            "domain": row["domaine_professionnel"], "grand_domain_code": row["code_grand_domaine"],
            "grand_domain": row["grand_domaine"],
        })
    for row in read_csv(data_dir / "rome_appellations.csv"):
        data.job_titles.append({"label": row["libelle_appellation"], "rome": row["code_rome"], "source": "appellation"})
    for row in read_csv(data_dir / "rome_metiers_onisep.csv"):
        label = row["metier_onisep"].strip()
        data.job_titles.append({"label": label[:1].upper() + label[1:], "rome": row["code_rome"], "source": "onisep"})
    for row in read_csv(data_dir / "formation_rome.csv"):
        data.formation_jobs.append({"cfd": row["cfd"], "rome": row["code_rome"], "rank": _int(row["rang"]) or 1})
    for row in read_csv(data_dir / "formation_mots_clefs.csv"):
        data.keywords.append({"cfd": row["cfd"], "keyword": row["mot_clef"], "score": _float(row["score"]) or 0.0})
    for row in read_csv(data_dir / "naf.csv"):
        data.naf.append({"code": row["code_naf"], "label": row["libelle"], "division": row["code_division"],
                         "division_label": row["libelle_division"]})
    for row in read_csv(data_dir / "naf_division_rome.csv"):
        if row["code_rome"]:
            data.naf_jobs.append({"division": row["code_division_naf"], "rome": row["code_rome"]})
    for row in read_csv(data_dir / "insertion_lycees.csv"):
        data.insertion.append({
            "uai": row["uai"], "millesime": row["millesime"], "population": row["population"],
            "employment_rate_6m": _float(row["taux_emploi_6_mois"]),
            "expected_employment_rate_6m": _float(row["taux_emploi_6_mois_attendu"]),
            "added_value": _float(row["valeur_ajoutee_emploi"]), "further_studies_rate": _float(row["taux_poursuite_etudes"]),
        })
    for row in read_csv(data_dir / "communes.csv"):
        data.communes.append({
            "insee": row["code_commune_insee"], "name": row["nom_commune"], "postal_code": row["code_postal"],
            "departement": row["code_departement"], "latitude": _float(row["latitude"]), "longitude": _float(row["longitude"]),
        })
    return data


def generic_contacts(lycees: list[dict]) -> dict[str, str]:
    """UAI -> generic school address; a SEP / annexe shares its mother lycée's address."""
    by_uai = {row["uai"]: row for row in lycees}
    contacts: dict[str, str] = {}
    for row in lycees:
        head = by_uai.get(row["parent_uai"] or "") or row
        email = (head["mail"] or row["mail"]).strip().lower()
        if email:
            contacts[row["uai"]] = email
    return contacts
