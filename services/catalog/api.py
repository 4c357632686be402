"""JSON API of the catalog: snapshot, job and commune autocomplete, lycée search and profile, admin import."""

from __future__ import annotations

import gzip
import time
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Query, Request, Response
from sqlmodel import Session

from services.catalog import metrics
from services.catalog import repository as repo
from services.catalog.schemas import (
    AcademieFallbackIn,
    AcademieFallbackOut,
    CommuneSuggestion,
    CoverageLineOut,
    ImportLineError,
    JobSuggestion,
    JobUnderstanding,
    LyceeProfile,
    LyceeSearchPage,
    NetworkCoverageOut,
    RbeImportReport,
)
from services.catalog.service.directory import normalize_email
from services.catalog.service.network_coverage import CoverageLine, network_coverage
from services.catalog.service.queries import (
    CatalogError,
    build_profile,
    commune_out,
    search_lycees,
    understanding_out,
)
from services.catalog.state import CatalogState
from services.catalog.tasks import import_rbe_csv
from shared.contracts.catalog_snapshot import CatalogSnapshot
from shared.contracts.events import CatalogChanged
from shared.platform.db import unit_of_work
from shared.platform.errors import FieldError
from shared.platform.http import ADMIN_RESPONSES, InvalidFields, Runtime, require_admin
from shared.platform.outbox import add_to_outbox
from shared.reference.geo import fold, load_communes
from shared.reference.jobs import naf_division_of

router = APIRouter(prefix="/api/v1")
UAI_PATTERN = r"^\d{7}[A-Za-z]$"


# async although it never awaits: FastAPI runs a plain def dependency on its thread pool.
async def get_state(request: Request) -> CatalogState:
    return request.app.state.catalog


State = Annotated[CatalogState, Depends(get_state)]


@router.get("/snapshot", tags=["matcher"], summary="Instantané complet du catalogue (lu par le matcher)",
            response_model=CatalogSnapshot, responses={200: {"model": CatalogSnapshot}})
async def snapshot(request: Request, state: State, runtime: Runtime) -> Response:
    # Always as fresh as the database: a CatalogChanged written by another process (CLI import)
    # may reach the matcher before this process's periodic version check.
    await runtime.run_db(state.refresh)
    body, etag = await runtime.run_db(state.snapshot_gzip_payload)
    headers = {"X-Catalog-Version": state.built.version, "ETag": etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if _accepts_gzip(request.headers.get("accept-encoding", "")):
        return Response(content=body, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(content=gzip.decompress(body), media_type="application/json", headers=headers)


def _accepts_gzip(accept_encoding: str) -> bool:
    """``Accept-Encoding`` names gzip (or ``*``) without refusing it with ``q=0``."""
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.replace(" ", "").removeprefix("q=")
            try:
                return not params.strip() or float(q) > 0
            except ValueError:
                return False
    return False


@router.get("/metiers", tags=["recherche"], summary="Autocomplétion des métiers (appellations, ROME, ONISEP)",
            response_model=list[JobSuggestion])
def jobs(state: State, q: Annotated[str, Query(min_length=1, max_length=100, description="Début du métier")],
         limite: Annotated[int, Query(ge=1, le=50)] = 10) -> list[JobSuggestion]:
    return [JobSuggestion(label=m.label, rome=m.rome, rome_label=m.rome_label, source=m.source, taught=m.taught)
            for m in state.index.suggest_jobs(q, limite)]


@router.get("/metiers/comprendre", tags=["recherche"], response_model=JobUnderstanding,
            summary="Ce que le service comprend d'un métier saisi (métiers, diplômes, correction)")
def understand_job(state: State, q: Annotated[str, Query(min_length=1, max_length=120, description="Métier en clair")],
                   naf: Annotated[str | None, Query(max_length=10, description="Code NAF ou division")] = None,
                   limite: Annotated[int, Query(ge=1, le=50)] = 10) -> JobUnderstanding:
    return understanding_out(state.index.understand_job(q, naf_division_of(naf)), limite,
                             state.index.resolver.taught_counts)


@router.get("/communes", tags=["recherche"], summary="Autocomplétion des communes (nom ou code postal)",
            response_model=list[CommuneSuggestion])
def communes(q: Annotated[str, Query(min_length=1, max_length=100)],
             limite: Annotated[int, Query(ge=1, le=50)] = 10) -> list[CommuneSuggestion]:
    return [commune_out(c) for c in load_communes().suggest(q, limite)]


@router.get("/lycees", tags=["recherche"], summary="Rechercher des lycées (métier, texte, NAF, lieu et rayon…)",
            response_model=LyceeSearchPage, responses={422: {"description": "Paramètre invalide (message en français)"}})
def lycees(
    state: State,
    metier: Annotated[str | None, Query(max_length=100, description="Métier en clair ou code ROME")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Texte libre (nom, formation)")] = None,
    naf: Annotated[str | None, Query(max_length=10, description="Code NAF ou division (2 chiffres)")] = None,
    lieu: Annotated[str | None, Query(max_length=80, description="Code postal ou nom de commune")] = None,
    code_insee: Annotated[str | None, Query(max_length=5, min_length=5)] = None,
    rayon_km: Annotated[float | None, Query(gt=0, le=500, description="Rayon autour du lieu (30 km par défaut)")] = None,
    academie: Annotated[str | None, Query(max_length=60)] = None,
    besoin: Annotated[str | None, Query(max_length=20, description="Type de besoin (pfmp, apprentissage…)")] = None,
    voie: Annotated[Literal["scolaire", "apprentissage"] | None, Query()] = None,
    periode: Annotated[str | None, Query(max_length=200, description="Dates souhaitées en clair (« mars », "
                                         "« du 2 au 27 mars ») : les lycées en PFMP à ces dates montent")] = None,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    par_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> LyceeSearchPage:
    kind = metrics.criterion(metier, q, naf, lieu or code_insee)
    started = time.perf_counter()
    try:
        page_out = search_lycees(state.index, load_communes(), job=metier, text=q, naf=naf, place=lieu, insee=code_insee,
                                 radius_km=rayon_km, academie=academie, need=besoin, track=voie, page=page,
                                 per_page=par_page, profile_base=state.public_url, period=periode)
    except CatalogError as exc:
        metrics.SEARCHES.labels(kind, "invalid").inc()
        raise InvalidFields([FieldError(exc.field, str(exc))]) from None
    metrics.SEARCH_SECONDS.labels(kind).observe(time.perf_counter() - started)
    metrics.SEARCHES.labels(kind, "found" if page_out.total else "empty").inc()
    return page_out


@router.get("/lycees/{uai}", tags=["recherche"], summary="Fiche d'un lycée", response_model=LyceeProfile,
            responses={404: {"description": "Lycée inconnu"}})
def lycee(state: State, runtime: Runtime, uai: Annotated[str, Path(pattern=UAI_PATTERN)]) -> LyceeProfile:
    with Session(runtime.engine) as session:
        rows = repo.insertion_for(session, uai.upper())
    profile = build_profile(state.model, uai.upper(), rows, runtime.settings.public_base_url.rstrip("/"))
    if profile is None:
        raise HTTPException(status_code=404, detail=f"Aucun lycée avec l'UAI {uai.upper()}.")
    return profile


@router.post("/admin/rbe/import", tags=["administration"], summary="Importer l'annuaire des RBE (CSV)",
             response_model=RbeImportReport, dependencies=[Depends(require_admin)], responses=ADMIN_RESPONSES,
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}})
async def import_rbe(request: Request, state: State, runtime: Runtime, background: BackgroundTasks,
                     confirmes: Annotated[bool, Query(description=(
                         "true : l'académie a déjà vérifié ces adresses, les RBE reçoivent les demandes tout de "
                         "suite ; sinon chaque RBE confirme par le lien reçu à son adresse"))] = False) -> RbeImportReport:
    raw = await request.body()
    if len(raw) > 5_000_000:
        raise HTTPException(status_code=413, detail="Fichier trop volumineux (5 Mo au plus).")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidFields([FieldError("corps", "Le fichier doit être encodé en UTF-8.")]) from None
    cid = getattr(request.state, "correlation_id", "admin-import")
    report = await runtime.run_db(import_rbe_csv, runtime.engine, content, cid, confirmes, runtime.settings)
    metrics.RBE_IMPORT_ROWS.labels("imported").inc(report.imported)
    metrics.RBE_IMPORT_ROWS.labels("rejected").inc(len(report.errors))
    if report.uais:
        await runtime.run_db(state.refresh)  # before the event leaves, so the matcher reads the new snapshot
        runtime.relay.wake()
    elif report.imported:  # awaiting confirmation: the links leave after the response
        from services.catalog.rbe_naming_pages import send_naming_mail

        background.add_task(send_naming_mail, runtime)
    return RbeImportReport(imported=report.imported, awaiting_confirmation=0 if confirmes else report.imported,
                           errors=[ImportLineError(line=e.line, message=e.message) for e in report.errors])


@router.put("/admin/academies/{academie}/repli", tags=["administration"], response_model=AcademieFallbackOut,
            summary="Définir l'adresse de repli d'une académie", dependencies=[Depends(require_admin)], responses=ADMIN_RESPONSES)
async def set_fallback(academie: Annotated[str, Path(max_length=80)], body: AcademieFallbackIn, request: Request,
                       state: State, runtime: Runtime) -> AcademieFallbackOut:
    names = {fold(lyc.academie): lyc.academie for lyc in state.model.lycees.values()}
    name = names.get(fold(academie))
    if name is None:
        raise HTTPException(status_code=404, detail=f"Académie inconnue : {academie[:80]}.")
    try:
        email = normalize_email(body.email)
    except ValueError as exc:
        raise InvalidFields([FieldError("email", f"Adresse de repli : {exc}.")]) from None

    def save() -> None:
        with unit_of_work(runtime.engine) as session:
            repo.set_academie_fallback(session, name, email)
            repo.bump_version(session)
            add_to_outbox(session, CatalogChanged(correlation_id=getattr(request.state, "correlation_id", "admin"),
                                                  uais=[], change="rbe"))
        state.refresh()

    await runtime.run_db(save)
    runtime.relay.wake()
    return AcademieFallbackOut(academie=name, email=email)


def _coverage_line(line: CoverageLine) -> CoverageLineOut:
    return CoverageLineOut(academie=line.academie, departement=line.departement, lycees=line.lycees,
                           avec_rbe=line.with_rbe, profil_complete=line.profile_complete, part_rbe=line.rbe_share,
                           part_profil=line.profile_share)


@router.get("/couverture", tags=["référents"], response_model=NetworkCoverageOut,
            responses={404: {"description": "Académie inconnue"}},
            summary="Couverture du réseau : lycées avec un RBE confirmé et avec une fiche complétée, par académie "
                    "et par département (chiffres agrégés, sans donnée personnelle)")
async def network_coverage_figures(state: State, runtime: Runtime,
                                   academie: Annotated[str | None, Query(max_length=80)] = None) -> NetworkCoverageOut:
    await runtime.run_db(state.refresh)
    figures = network_coverage(state.model, date.today())
    academies, departements = figures.academies, figures.departements
    if academie:
        wanted = academie.strip().lower()
        academies = [a for a in academies if a.academie.lower() == wanted]
        departements = [d for d in departements if d.academie.lower() == wanted]
        if not academies:
            raise HTTPException(404, f"Académie inconnue : {academie[:80]}.")
    return NetworkCoverageOut(total=_coverage_line(figures.total), academies=[_coverage_line(a) for a in academies],
                              departements=[_coverage_line(d) for d in departements])
