"""The pitch drafted from the data (jobs, levels, results after the diploma), for the RBE to correct.

It is only a draft: it appears in the RBE's editor, never on the public page until the RBE saves it.
"""

from __future__ import annotations

from services.catalog.service.queries import formations_of, job_domains
from services.catalog.service.readmodel import ReadModel

MAX_JOBS = 5
MAX_FORMATIONS = 4


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " et " + items[-1]


def draft_pitch(model: ReadModel, uai: str, insertion_rows: list) -> str:
    lycee = model.lycees.get(uai)
    if lycee is None:
        return ""
    formations = formations_of(model, uai)
    sentences = [f"Le {lycee.name}, à {lycee.commune}, forme les professionnels de demain."]
    jobs = [j.rome_label.split(" / ")[0] for d in job_domains(model, [f.cfd for f in formations]) for j in d.jobs]
    if jobs:
        sentences.append(f"Nos élèves se préparent aux métiers suivants : {_join(jobs[:MAX_JOBS]).lower()}"
                         + (", entre autres." if len(jobs) > MAX_JOBS else "."))
    if formations:
        shown = [f"{f.diploma} {f.label} ({f.level_text})" for f in formations[:MAX_FORMATIONS]]
        sentences.append(f"Formations : {_join(shown)}" + (" et d'autres." if len(formations) > MAX_FORMATIONS else "."))
        tracks = {t for f in formations for t in f.tracks}
        if tracks == {"scolaire", "apprentissage"}:
            sentences.append("Nos élèves viennent en entreprise en stage (PFMP) ou en apprentissage.")
        elif "apprentissage" in tracks:
            sentences.append("Nos apprentis alternent entre le lycée et l'entreprise.")
        else:
            sentences.append("Nos élèves viennent en entreprise pour leurs périodes de stage (PFMP).")
    latest = max((r.millesime for r in insertion_rows), default=None)
    overall = next((r for r in insertion_rows if r.millesime == latest and r.population == "ensemble"
                    and r.employment_rate_6m is not None), None)
    if overall is not None:
        sentences.append(f"{int(overall.employment_rate_6m)} % de nos sortants sont en emploi six mois après leur "
                         f"formation (DEPP, {str(latest).replace('_', '-')}).")
    sentences.append("Stagiaires, apprentis, futurs salariés : contactez notre bureau des entreprises.")
    return " ".join(sentences)
