"""The Inkasso view: a FastAPI app mounted in Airflow's API server under ``/inkasso``.

Server-rendered pages (Jinja templates in ``include/templates/ui/``), plain tables and forms.
Every route depends on ``current_user`` (Airflow's token, checked here: plugin apps are not
protected by Airflow); every write also needs the right to trigger the DAG concerned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inkasso.config import TEMPLATES_DIR
from inkasso.money.amounts import format_money
from inkasso.report.masking import mask_text
from inkasso.ui import URL_PREFIX, actions, queries
from inkasso.ui.auth import (
    ViewUser,
    can_trigger,
    current_user,
    require_same_origin,
    require_trigger,
)

ERP_URL_TTL = 60.0  # seconds an erp_db connection lookup is reused
User = Annotated[ViewUser, Depends(current_user)]


# --------------------------------------------------------------------------- plumbing

_erp_url_cache: dict[str, tuple[float, str]] = {}


def erp_engine():
    """The ERP engine behind the Airflow connection ``erp_db`` (looked up at most once a minute).

    The API server is no task, so the connection is read with Airflow's server-side lookup
    (environment, secrets backends, metadata database), as every component reads it.
    """
    from airflow.models.connection import Connection

    from inkasso.db.engine import ERP_CONN_ID, engine_for_url, url_from_connection

    cached = _erp_url_cache.get(ERP_CONN_ID)
    if cached is None or time.monotonic() - cached[0] > ERP_URL_TTL:
        url = url_from_connection(Connection.get_connection_from_secrets(ERP_CONN_ID))
        cached = (time.monotonic(), url)
        _erp_url_cache[ERP_CONN_ID] = cached
    return engine_for_url(cached[1])


def airflow_base_path() -> str:
    """The path Airflow's UI is served under ('' at the root)."""
    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "/").path.rstrip("/")


def airflow_api_url(request: Request) -> str:
    """Where this server reaches Airflow's REST API: ``INKASSO_UI_API_URL``, else this server."""
    configured = os.environ.get("INKASSO_UI_API_URL")
    if configured:
        return configured.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{airflow_base_path()}"


def today() -> date:
    """Today in the business time zone (ages of cases count from it)."""
    return datetime.now(actions.BUSINESS_TZ).date()


# the largest id or offset a database integer holds (SQLite and PostgreSQL bigint): a larger
# number in a URL names nothing and must not reach the driver (it overflows: a 500)
MAX_DB_INT = 2**63 - 1
MAX_PAGE = MAX_DB_INT // 1000  # any page's offset stays a database integer


def _int(value: str | None) -> int | None:
    """A whole number from the query string; None when empty, not a number or beyond the
    database's integers (a filter then means 'any', as for any bad value)."""
    try:
        number = int(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is None or -MAX_DB_INT <= number <= MAX_DB_INT else None


def _existing_id(kind: str, value: int) -> int:
    """``value`` as a row id to look up; 404 when no database integer is that number."""
    if not 0 < value <= MAX_DB_INT:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No {kind} {value}")
    return value


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _str(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


@cache
def _templates():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR / "ui")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = format_money  # the one money formatter (mails, CLI and demo use it too)
    env.filters["mask"] = mask_text
    env.filters["zip"] = lambda a, b: list(zip(a, b, strict=False))
    env.filters["dt"] = lambda v: (
        v.astimezone(actions.BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
        if isinstance(v, datetime) and v.tzinfo
        else (v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else (v or ""))
    )
    return env


def render(request: Request, template: str, viewer: ViewUser | None, **context) -> HTMLResponse:
    """Render a page of the view with the navigation, the user and page links."""

    def page_url(page: int) -> str:
        params = dict(request.query_params)
        params["page"] = str(page)
        return f"{request.url.path}?{urlencode(params)}"

    options = context.get("options")
    if options is not None:  # the filter forms' choices as (value, label) pairs
        context["agreement_choices"] = [
            (a["agreement_id"], a["agreement_id"]) for a in options.agreements
        ]
        context["client_choices"] = [
            (c["client_id"], f"{c['client_id']} {c['name']}") for c in options.clients
        ]
        context["agency_choices"] = [(a, a) for a in options.agencies]
    html = (
        _templates()
        .get_template(template)
        .render(
            prefix=URL_PREFIX,
            airflow=airflow_base_path(),
            user=viewer.name if viewer else None,
            q=request.query_params,
            page_url=page_url,
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(html)


# --------------------------------------------------------------------------- the app

_PARSERS = {
    "int | None": _int,
    "str | None": _str,
    "date | None": _date,
    "bool": lambda value: value == "1",
}


def _filter_from(query, filter_class):
    """A list's filter dataclass filled from the query string (bad or empty values: 'any')."""
    return filter_class(
        **{f.name: _PARSERS[f.type](query.get(f.name)) for f in dataclasses.fields(filter_class)}
    )


async def _error_page(request: Request, exc: HTTPException):
    """An HTTP error as a page of the view (with a login link for a 401); a national id in its
    message (a person pasted one where a case number goes) is masked as on every page."""
    html = (
        _templates()
        .get_template("error.html.j2")
        .render(
            prefix=URL_PREFIX,
            airflow=airflow_base_path(),
            status_code=exc.status_code,
            message=mask_text(str(exc.detail)),
            login=exc.status_code == status.HTTP_401_UNAUTHORIZED,
        )
    )
    return HTMLResponse(html, status_code=exc.status_code)


async def _invalid_request_page(request: Request, exc: RequestValidationError):
    """A request FastAPI could not read as a page of the view, not JSON echoing the input: an
    address whose id is no number names nothing (404); a form missing a field is a 400."""
    places = [e.get("loc", ()) for e in exc.errors()]
    if any(loc and loc[0] == "path" for loc in places):
        error = HTTPException(status.HTTP_404_NOT_FOUND, "Nothing at this address")
    else:
        fields = sorted({str(loc[-1]) for loc in places if loc})
        error = HTTPException(
            status.HTTP_400_BAD_REQUEST, f"Missing or invalid: {', '.join(fields)}"
        )
    return await _error_page(request, error)


def _redirect(path: str, message: str) -> RedirectResponse:
    """See-other to a page of the view, with a message for the person."""
    return RedirectResponse(
        f"{URL_PREFIX}{path}?{urlencode({'message': message})}",
        status_code=status.HTTP_303_SEE_OTHER,
    )


# --------------------------------------------------------------------------- cases and money
case_pages = APIRouter()


@case_pages.get("/", include_in_schema=False)
def home(viewer: User):
    """The view opens on the case list."""
    return RedirectResponse(f"{URL_PREFIX}/cases", status_code=status.HTTP_303_SEE_OTHER)


def _list_page(request: Request, viewer, read, template: str, **context):
    """A list page: ``read(conn, query)`` gives its rows (a dict of template values) from the
    query string's filters and page; the filter forms' choices come with it."""
    with erp_engine().connect() as conn:
        options = queries.filter_options(conn)
        rows = read(conn, request.query_params)
    return render(request, template, viewer, options=options, **rows, **context)


def _page(q) -> int:
    """The page asked for (1 when none or not a number; far pages are empty, never an error)."""
    return min(max(_int(q.get("page")) or 1, 1), MAX_PAGE)


@case_pages.get("/cases", response_class=HTMLResponse)
def cases(request: Request, viewer: User):
    """The case list, filtered and paginated."""

    def read(conn, q):
        f = _filter_from(q, queries.CaseFilter)
        return {"page": queries.list_cases(conn, f, today=today(), page=_page(q))}

    return _list_page(
        request,
        viewer,
        read,
        "cases.html.j2",
        tab="cases",
        statuses=queries.CASE_STATUSES,
        stale_days=queries.STALE_DAYS,
    )


@case_pages.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int, viewer: User):
    """One case with its invoice, events, corrections and money."""
    case_id = _existing_id("case", case_id)
    with erp_engine().connect() as conn:
        case = queries.case_detail(conn, case_id, today=today())
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No case {case_id}")
    return render(request, "case.html.j2", viewer, tab="cases", case=case)


@case_pages.get("/holds", response_class=HTMLResponse)
def holds(request: Request, viewer: User):
    """The invoices held back by the dispatch, grouped by reason."""

    def read(conn, q):
        groups, page = queries.list_holds(
            conn,
            client_id=_int(q.get("client_id")),
            business_date=_date(q.get("business_date")),
            reason=_str(q.get("reason")),
            page=_page(q),
        )
        return {"groups": groups, "page": page}

    return _list_page(request, viewer, read, "holds.html.j2", tab="holds")


@case_pages.get("/payouts", response_class=HTMLResponse)
def payouts(request: Request, viewer: User):
    """The agencies' payouts and each interim account's balance (once per account)."""

    def read(conn, q):
        page = queries.list_payouts(
            conn,
            agreement_id=_str(q.get("agreement_id")),
            reconciliation=_str(q.get("reconciliation")),
            page=_page(q),
        )
        accounts = queries.interim_balances(conn)
        return {"page": page, "accounts": accounts, "totals": queries.interim_totals(accounts)}

    return _list_page(request, viewer, read, "payouts.html.j2", tab="payouts")


@case_pages.get("/after-closure", response_class=HTMLResponse)
def after_closure(request: Request, viewer: User):
    """Money events on cases that had already ended."""

    def read(conn, q):
        agreement_id = _str(q.get("agreement_id"))
        return {"page": queries.list_after_closure(conn, agreement_id=agreement_id, page=_page(q))}

    return _list_page(request, viewer, read, "after_closure.html.j2", tab="after")


# --------------------------------------------------------------------------- files
file_pages = APIRouter()


def _archived_bytes(row: dict) -> bytes | None:
    """The archived bytes of a logged file, or None when they are gone."""
    from airflow.sdk import ObjectStoragePath

    try:
        return ObjectStoragePath(row["path"]).read_bytes()
    except (FileNotFoundError, OSError):
        return None


def _file_or_404(file_id: int) -> dict:
    """The logged file ``file_id`` with its issues; 404 when there is none."""
    file_id = _existing_id("file", file_id)
    with erp_engine().connect() as conn:
        row = queries.file_detail(conn, file_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No file {file_id}")
    return row


@file_pages.get("/files", response_class=HTMLResponse)
def files(request: Request, viewer: User):
    """The file log, filtered and paginated."""

    def read(conn, q):
        f = _filter_from(q, queries.FileFilter)
        return {"page": queries.list_files(conn, f, page=_page(q))}

    return _list_page(
        request, viewer, read, "files.html.j2", tab="files", statuses=queries.FILE_STATUSES
    )


@file_pages.get("/files/{file_id}", response_class=HTMLResponse)
def file_page(request: Request, file_id: int, viewer: User):
    """One logged file: its issues and a masked preview of its first lines."""
    row = _file_or_404(file_id)
    data = _archived_bytes(row)
    lines = queries.decode_file(data) if data is not None else []
    if lines:
        with erp_engine().connect() as conn:
            lines = queries.mask_id_fields(lines, queries.file_layout(conn, row))
    return render(
        request,
        "file.html.j2",
        viewer,
        tab="files",
        file=row,
        available=data is not None,
        sha_ok=data is not None and hashlib.sha256(data).hexdigest() == row["sha256"],
        issues=queries.issue_lines(lines, row["issues"]),
        preview=[(i + 1, mask_text(text)) for i, text in enumerate(lines[:40])],
        line_count=len(lines),
        may_handle=can_trigger(viewer.user, "inkasso_inbound"),
        message=request.query_params.get("message"),
    )


@file_pages.get("/files/{file_id}/download")
def download(file_id: int, viewer: User):
    """The archived bytes as they were sent or received: a file for the agency, unmasked."""
    row = _file_or_404(file_id)
    data = _archived_bytes(row)
    if data is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"{row['file_name']}: archived bytes not found"
        )
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{row["file_name"]}"',
            "X-Inkasso-Sha256": hashlib.sha256(data).hexdigest(),
        },
    )


@file_pages.post("/files/{file_id}/handled")
def file_handled(
    request: Request,
    file_id: int,
    viewer: User,
    state: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
):
    """Mark a quarantined file handled (a dismissal needs a note)."""
    require_same_origin(request)
    require_trigger(viewer, "inkasso_inbound")
    file_id = _existing_id("file", file_id)
    if state not in actions.HANDLED_STATES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Unknown state {state!r}")
    if state == "dismissed" and not note.strip():
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "A dismissal needs a note saying why")
    done = actions.mark_file_handled(erp_engine(), file_id, state, note.strip(), viewer.name)
    message = f"marked {state}" if done else "only a quarantined file can be marked handled"
    return _redirect(f"/files/{file_id}", message)


# --------------------------------------------------------------------------- actions
action_pages = APIRouter()


@action_pages.get("/actions", response_class=HTMLResponse)
def actions_page(request: Request, viewer: User):
    """The actions a person may start, and the recent ones."""
    with erp_engine().connect() as conn:
        options = queries.filter_options(conn)
        recent = queries.recent_actions(conn)
    return render(
        request,
        "actions.html.j2",
        viewer,
        tab="actions",
        options=options,
        recent=recent,
        rerun_dags=list(actions.RERUN_DAGS),
        may={d: can_trigger(viewer.user, d) for d in actions.RERUN_DAGS},
        message=request.query_params.get("message"),
        today=today(),
    )


def _action_target(action: str, dag_id: str, business_date: str):
    """The DAG an action triggers, its logical date and the re-run day (400 when unknown)."""
    if action in actions.ACTION_DAGS:
        return actions.ACTION_DAGS[action], None, None
    if action == "rerun_day":
        day = _date(business_date)
        if dag_id not in actions.RERUN_DAGS or day is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "Choose a flow and a day to re-run")
        return dag_id, actions.rerun_logical_date(dag_id, day), day
    raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Unknown action {action!r}")


@action_pages.post("/actions")
def run_action(
    request: Request,
    viewer: User,
    action: Annotated[str, Form()],
    agreement_id: Annotated[str, Form()],
    dag_id: Annotated[str, Form()] = "",
    business_date: Annotated[str, Form()] = "",
):
    """Trigger the DAG of an action for one agreement, and record who did it."""
    require_same_origin(request)
    with erp_engine().connect() as conn:
        known = {a["agreement_id"] for a in queries.filter_options(conn).agreements}
    if agreement_id not in known:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Unknown agreement {agreement_id!r}")
    dag_id, logical_date, day = _action_target(action, dag_id, business_date)
    require_trigger(viewer, dag_id)
    earlier = actions.just_triggered(
        erp_engine(),
        username=viewer.name,
        action=action,
        agreement_id=agreement_id,
        dag_id=dag_id,
        business_date=day,
        now=datetime.now(UTC),
    )
    if earlier:  # a double click: the first click's run is the answer
        return _redirect("/actions", f"{dag_id}: run {earlier['dag_run_id']} already created")
    result = actions.trigger_dag(
        airflow_api_url(request),
        viewer.token,
        dag_id,
        {"agreement_id": agreement_id},
        logical_date=logical_date,
        note=f"Inkasso view: {action} for {agreement_id} by {viewer.name}",
    )
    actions.record_action(
        erp_engine(),
        username=viewer.name,
        action=action,
        outcome="triggered" if result.ok else "failed",
        agreement_id=agreement_id,
        business_date=day,
        dag_id=dag_id,
        dag_run_id=result.dag_run_id,
        note=None if result.ok else result.message[:2000],
        now=datetime.now(UTC),
    )
    message = f"{dag_id}: run {result.dag_run_id} created" if result.ok else result.message
    return _redirect("/actions", message)


def create_app() -> FastAPI:
    """Build the view's FastAPI app (mounted by the ``inkasso_ui`` plugin): the case and money
    pages, the file pages and the actions, with errors shown as pages."""
    app = FastAPI(title="Inkasso", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(HTTPException, _error_page)
    app.add_exception_handler(RequestValidationError, _invalid_request_page)
    for router in (case_pages, file_pages, action_pages):
        app.include_router(router)
    return app


app = create_app()
