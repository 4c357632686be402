"""Builds the job vocabulary (``shared.reference.jobs.JobVocabulary``) from the open data in ``data/``.

The catalog owns it: it is built at load time, stored with the reference data, served in the snapshot,
and every job text is resolved from it (docs/job-vocabulary.md).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from pathlib import Path

from services.catalog.open_data import clean_label, read_csv
from shared.reference.jobs.text import fold
from shared.reference.jobs.vocabulary import (
    JobVocabulary,
    TitleKind,
    VocabularyAbbreviation,
    VocabularyFormation,
    VocabularyJob,
    VocabularyOnisepJob,
    VocabularyTitle,
)

_LEVELS = (("bac + 9", 8), ("bac + 8", 8), ("bac + 7", 7), ("bac + 6", 7), ("bac + 5", 7), ("bac + 4", 6),
           ("bac + 3", 6), ("bac + 2", 5), ("bac + 1", 5), ("bac", 4), ("cap", 3), ("brevet", 2), ("3e", 2),
           ("sans diplome", 2), ("sans diplôme", 2))
# « boulanger/ère », « aide-soignant/e » -> masculine form; the ending stops at a hyphen: « mécanicien/ne-outilleur/euse »
# is « mécanicien-outilleur », not « mécanicien » (a title that took every « mécanicien » to the ajusteur-monteur).
_ONISEP_ENDING = re.compile(r"/[^\s-]*")
# « conducteur / conductrice de machines agricoles » (rome_metiers_onisep.csv): the feminine form, hyphens included.
_ONISEP_FEMININE = re.compile(r"\s*/\s*\S*")
_MET_ID = re.compile(r"MET\.\d+")
# sigles_metiers.csv notes of a word clipped or in jargon, read as the word it stands for and never as a diploma's
# sigle: a job's name (« cuisto ») or another word the company types beside the job (« monteur pneus »,
# « cariste manut »). Other common words (« resto », « info ») may still name a diploma, as sigles do.
CLIPPING_NOTES = ("mot courant d'un métier", "mot courant lu comme le mot")
# « … 2NDE COMMUNE (BAC PRO) », « … BTS 1ERE ANNEE COMMUNE »: some are in no BCN group (ASSP, MV…).
_FIRST_YEAR_LABEL = re.compile(r"2NDE COMMUNE|ANNEE COMMUNE")
# A professional title's Certif Info label less its type and its awarding body: « Titre professionnel
# conseiller de vente » -> « Conseiller de vente », « Boulanger (BM) » -> « Boulanger ».
_TITLE_TYPE = re.compile(r"^titre professionnel\s+", re.IGNORECASE)
_TRAILING_NOTE = re.compile(r"\s*\([^)]*\)\s*$")


def access_level(text: str) -> int | None:
    """« Bac + 5 » -> 7 (European level), « CAP ou équivalent » -> 3; None when unknown."""
    low = text.strip().lower()
    for prefix, level in _LEVELS:
        if low.startswith(prefix):
            return level
    return None


def onisep_name(raw: str, *, feminine_written_out: bool = False) -> str:
    """« boulanger/ère » -> « Boulanger », « contrôleur/euse aérien/ne » -> « Contrôleur aérien »,
    « chauffeur/euse-livreur/euse » -> « Chauffeur-livreur »; ``feminine_written_out``: the feminine form
    is written whole (« mécanicien-outilleur / mécanicienne-outilleuse » -> « Mécanicien-outilleur »)."""
    text = " ".join((_ONISEP_FEMININE if feminine_written_out else _ONISEP_ENDING).sub("", raw).split())
    return text[:1].upper() + text[1:]


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace(",", ";").split(";") if v.strip()]


def build_vocabulary(data_dir: Path, today: date | None = None) -> JobVocabulary:
    today = today or date.today()
    jobs = [VocabularyJob(rome=r["code_rome"], label=r["libelle_rome"], parent=r["code_rome_parent"] or r["code_rome"],
                          domain=r["code_domaine"], domain_label=r["domaine_professionnel"],
                          grand_domain=r["grand_domaine"], executive=r["emploi_cadre"] == "O")
            for r in read_csv(data_dir / "rome.csv")]
    known = {j.rome for j in jobs}
    titles = [VocabularyTitle(label=j.label, rome=j.rome, kind="rome") for j in jobs]
    for r in read_csv(data_dir / "rome_appellations.csv"):
        if r["code_rome"] in known:
            kind: TitleKind = "principale" if r["classification"] == "PRINCIPALE" else "synonyme"
            titles.append(VocabularyTitle(label=r["libelle_appellation"], rome=r["code_rome"], kind=kind))
    for r in read_csv(data_dir / "rome_metiers_onisep.csv"):
        met = _MET_ID.search(r["url_onisep"])
        if r["code_rome"] in known and r["metier_onisep"].strip():
            titles.append(VocabularyTitle(label=onisep_name(r["metier_onisep"], feminine_written_out=True), rome=r["code_rome"],
                                          kind="onisep", onisep=met.group(0) if met else None))
    formations = _formations(data_dir, today)
    by_label = _formations_by_label(formations)
    onisep_cfds: dict[str, list[str]] = defaultdict(list)
    for r in read_csv(data_dir / "onisep_metiers_formations.csv"):
        cfd = r["code_scolarite"].strip()
        # A sheet carrying a code the BCN does not know (« MC (futur CS) … » under a code yet to come):
        # the diploma of the same type and label, and its renovations through the BCN.
        for c in [cfd] if cfd in by_label.known else by_label.named(r["type_formation"], r["formation"]):
            if c not in onisep_cfds[r["met_id"]]:
                onisep_cfds[r["met_id"]].append(c)
    onisep_jobs = []
    for r in read_csv(data_dir / "onisep_metiers.csv"):
        romes = _split(r["romes_v3"])
        onisep_jobs.append(VocabularyOnisepJob(id=r["met_id"], name=onisep_name(r["metier"]), romes=romes,
                                               cfds=onisep_cfds.get(r["met_id"], []),
                                               min_level=access_level(r["niveau_acces_min"])))
        for rome in romes:
            if rome in known:
                titles.append(VocabularyTitle(label=onisep_name(r["metier"]), rome=rome, kind="onisep", onisep=r["met_id"]))
    return JobVocabulary(jobs=jobs, titles=_unique(titles), onisep_jobs=onisep_jobs,
                         formations=formations, abbreviations=_abbreviations(data_dir),
                         naf_division_romes=_naf(data_dir),
                         certification_titles=_unique(_certification_titles(data_dir, formations, known)))


def _certification_titles(data_dir: Path, formations: list[VocabularyFormation], known: set[str]) -> list[VocabularyTitle]:
    """Professional titles (the BCN's « TH… » diplomas: the Ministry of Labour's titres professionnels, the
    titles a branch or a school registers) are named after the job they certify, in the words employers
    use: « conseiller de vente », « employé commercial », « agent magasinier ». ROME words some of them
    otherwise (« conseiller de vente » is no ROME title: it read as an estate agent). Each such label names
    every job Certif Info links the title to (docs/job-vocabulary.md, « Titles »)."""
    professional = {f.cfd for f in formations if f.diploma.startswith("TH")}
    out = []
    for r in read_csv(data_dir / "formation_rome.csv"):
        if r["cfd"] not in professional or r["code_rome"] not in known:
            continue
        label = _TRAILING_NOTE.sub("", _TITLE_TYPE.sub("", " ".join(r["libelle_certif_info"].split())))
        if label:
            out.append(VocabularyTitle(label=label[:1].upper() + label[1:], rome=r["code_rome"], kind="certif"))
    return out


# ONISEP's diploma types -> the BCN's (``formations.csv`` ``diplome``) of lycée level.
_ONISEP_TYPES = {"CAP": ("CAP",), "CAP agricole": ("CAPA",), "bac pro": ("BAC PRO",), "bac pro agricole": ("BAC PRO AG",),
                 "BP": ("BP",), "BPA": ("BPA",), "BTS": ("BTS",), "BTSA": ("BTSA",), "BMA": ("BMA",),
                 "MC (futur CS)": ("MC", "CS"), "MC": ("MC", "CS"), "CS": ("CS", "MC")}


class _FormationsByLabel:
    def __init__(self, formations: list[VocabularyFormation]) -> None:
        self.known = {f.cfd for f in formations}
        self.by_key: dict[str, list[VocabularyFormation]] = defaultdict(list)
        for f in formations:
            self.by_key[_label_key(f.label)].append(f)

    def named(self, kind: str, label: str) -> list[str]:
        """The lycée-level formations of this ONISEP type whose label is the ONISEP label less its type."""
        diplomas = _ONISEP_TYPES.get(kind.strip())
        text = label.strip()
        if not diplomas or not text.lower().startswith(kind.strip().lower()):
            return []
        found = [f for f in self.by_key.get(_label_key(text[len(kind.strip()):]), [])
                 if f.diploma.split()[0] in {d.split()[0] for d in diplomas} and f.diploma.startswith(diplomas)]
        return sorted(f.cfd for f in found)


def _formations_by_label(formations: list[VocabularyFormation]) -> _FormationsByLabel:
    return _FormationsByLabel(formations)


def _label_key(label: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(label)).split())


def _unique(titles: list[VocabularyTitle]) -> list[VocabularyTitle]:
    seen: set[tuple] = set()
    out = []
    for t in titles:
        if not t.label.strip():
            continue
        key = (t.label.lower(), t.rome, t.kind, t.onisep)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def _formations(data_dir: Path, today: date) -> list[VocabularyFormation]:
    romes: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in read_csv(data_dir / "formation_rome.csv"):
        romes[r["cfd"]].append((int(r["rang"] or 9), r["code_rome"]))
    keywords: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for r in read_csv(data_dir / "formation_mots_clefs.csv"):
        keywords[r["cfd"]].append((float(r["score"] or 0), r["mot_clef"]))
    first_years = {r["cfd"] for r in read_csv(data_dir / "groupes_formation.csv") if r["role"] == "tronc_commun"}
    out = []
    for r in read_csv(data_dir / "formations.csv"):
        closed = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", r["date_fermeture"].strip())
        is_closed = closed is not None and date(int(closed[3]), int(closed[2]), int(closed[1])) < today
        level = int(r["niveau_europeen"]) if r["niveau_europeen"].isdigit() else None
        out.append(VocabularyFormation(
            cfd=r["cfd"], label=r["intitule_specialite"].strip() or clean_label(r["libelle_long"]), diploma=r["diplome"],
            level=level, closed=is_closed,
            common_first_year=r["cfd"] in first_years or bool(_FIRST_YEAR_LABEL.search(r["libelle_long"])),
            romes=[rome for _, rome in sorted(romes.get(r["cfd"], []))],
            successors=_split(r["remplace_par_cfd"]),
            keywords=[k for _, k in sorted(keywords.get(r["cfd"], []), reverse=True) if k][:12],
        ))
    return out


def _abbreviations(data_dir: Path) -> list[VocabularyAbbreviation]:
    return [VocabularyAbbreviation(abbreviation=r["sigle"], expansion=r["developpement"],
                                   clipping=(r.get("note") or "").startswith(CLIPPING_NOTES))
            for r in read_csv(data_dir / "sigles_metiers.csv")]


def _naf(data_dir: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for r in read_csv(data_dir / "naf_division_rome.csv"):
        if r["code_rome"] and r["code_rome"] not in out[r["code_division_naf"]]:
            out[r["code_division_naf"]].append(r["code_rome"])
    return dict(out)
