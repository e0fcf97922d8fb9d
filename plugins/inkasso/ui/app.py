"""The Inkasso view: a FastAPI app mounted in Airflow's API server under ``/inkasso``.

Server-rendered pages (Jinja templates in ``include/templates/ui/``), plain tables and forms.
Every route depends on ``current_user`` (Airflow's token, checked here: plugin apps are not
protected by Airflow); every write also needs the right to trigger the DAG concerned.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inkasso.config import TEMPLATES_DIR
from inkasso.money.amounts import format_money
from inkasso.report.masking import mask_text
from inkasso.ui import actions, queries
from inkasso.ui.auth import (
    ViewUser,
    can_trigger,
    current_user,
    require_same_origin,
    require_trigger,
)

URL_PREFIX = "/inkasso"
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


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


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


def create_app() -> FastAPI:
    """Build the view's FastAPI app (mounted by the ``inkasso_ui`` plugin)."""
    app = FastAPI(title="Inkasso", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(HTTPException)
    async def _error_page(request: Request, exc: HTTPException):
        html = (
            _templates()
            .get_template("error.html.j2")
            .render(
                prefix=URL_PREFIX,
                airflow=airflow_base_path(),
                status_code=exc.status_code,
                message=str(exc.detail),
                login=exc.status_code == status.HTTP_401_UNAUTHORIZED,
            )
        )
        return HTMLResponse(html, status_code=exc.status_code)

    @app.get("/", include_in_schema=False)
    def home(viewer: User):
        return RedirectResponse(f"{URL_PREFIX}/cases", status_code=status.HTTP_303_SEE_OTHER)

    @app.get("/cases", response_class=HTMLResponse)
    def cases(request: Request, viewer: User):
        q = request.query_params
        f = queries.CaseFilter(
            client_id=_int(q.get("client_id")),
            agency=_str(q.get("agency")),
            agreement_id=_str(q.get("agreement_id")),
            status=_str(q.get("status")),
            date_from=_date(q.get("date_from")),
            date_to=_date(q.get("date_to")),
            invoice_no=_str(q.get("invoice_no")),
            customer_no=_str(q.get("customer_no")),
            agency_ref=_str(q.get("agency_ref")),
            late_receipt=q.get("late_receipt") == "1",
        )
        with erp_engine().connect() as conn:
            options = queries.filter_options(conn)
            page = queries.list_cases(conn, f, today=today(), page=_int(q.get("page")) or 1)
        return render(
            request,
            "cases.html.j2",
            viewer,
            tab="cases",
            page=page,
            options=options,
            statuses=queries.CASE_STATUSES,
            stale_days=queries.STALE_DAYS,
        )

    @app.get("/cases/{case_id}", response_class=HTMLResponse)
    def case_page(request: Request, case_id: int, viewer: User):
        with erp_engine().connect() as conn:
            case = queries.case_detail(conn, case_id, today=today())
        if case is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"No case {case_id}")
        return render(request, "case.html.j2", viewer, tab="cases", case=case)

    @app.get("/files", response_class=HTMLResponse)
    def files(request: Request, viewer: User):
        q = request.query_params
        f = queries.FileFilter(
            agreement_id=_str(q.get("agreement_id")),
            client_id=_int(q.get("client_id")),
            direction=_str(q.get("direction")),
            status=_str(q.get("status")),
            kind=_str(q.get("kind")),
            date_from=_date(q.get("date_from")),
            date_to=_date(q.get("date_to")),
            name=_str(q.get("name")),
        )
        with erp_engine().connect() as conn:
            options = queries.filter_options(conn)
            page = queries.list_files(conn, f, page=_int(q.get("page")) or 1)
        return render(
            request,
            "files.html.j2",
            viewer,
            tab="files",
            page=page,
            options=options,
            statuses=queries.FILE_STATUSES,
        )

    def _archived_bytes(row: dict) -> bytes | None:
        from airflow.sdk import ObjectStoragePath

        try:
            return ObjectStoragePath(row["path"]).read_bytes()
        except (FileNotFoundError, OSError):
            return None

    @app.get("/files/{file_id}", response_class=HTMLResponse)
    def file_page(request: Request, file_id: int, viewer: User):
        with erp_engine().connect() as conn:
            row = queries.file_detail(conn, file_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"No file {file_id}")
        data = _archived_bytes(row)
        lines = queries.decode_file(data) if data is not None else []
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

    @app.get("/files/{file_id}/download")
    def download(file_id: int, viewer: User):
        with erp_engine().connect() as conn:
            row = queries.file_detail(conn, file_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"No file {file_id}")
        data = _archived_bytes(row)
        if data is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"{row['file_name']}: archived bytes not found"
            )
        # the archived bytes as they were sent or received: a file for the agency, unmasked
        return Response(
            data,
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="{row["file_name"]}"',
                "X-Inkasso-Sha256": hashlib.sha256(data).hexdigest(),
            },
        )

    @app.post("/files/{file_id}/handled")
    def file_handled(
        request: Request,
        file_id: int,
        viewer: User,
        state: Annotated[str, Form()],
        note: Annotated[str, Form()] = "",
    ):
        require_same_origin(request)
        require_trigger(viewer, "inkasso_inbound")
        if state not in actions.HANDLED_STATES:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Unknown state {state!r}")
        if state == "dismissed" and not note.strip():
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "A dismissal needs a note saying why")
        done = actions.mark_file_handled(erp_engine(), file_id, state, note.strip(), viewer.name)
        message = f"marked {state}" if done else "only a quarantined file can be marked handled"
        return RedirectResponse(
            f"{URL_PREFIX}/files/{file_id}?{urlencode({'message': message})}",
            status_code=status.HTTP_303_SEE_OTHER,
        )

    @app.get("/holds", response_class=HTMLResponse)
    def holds(request: Request, viewer: User):
        q = request.query_params
        with erp_engine().connect() as conn:
            options = queries.filter_options(conn)
            groups, page = queries.list_holds(
                conn,
                client_id=_int(q.get("client_id")),
                business_date=_date(q.get("business_date")),
                reason=_str(q.get("reason")),
                page=_int(q.get("page")) or 1,
            )
        return render(
            request, "holds.html.j2", viewer, tab="holds", groups=groups, page=page, options=options
        )

    @app.get("/payouts", response_class=HTMLResponse)
    def payouts(request: Request, viewer: User):
        q = request.query_params
        with erp_engine().connect() as conn:
            options = queries.filter_options(conn)
            page = queries.list_payouts(
                conn,
                agreement_id=_str(q.get("agreement_id")),
                reconciliation=_str(q.get("reconciliation")),
                page=_int(q.get("page")) or 1,
            )
            balances = queries.interim_balances(conn)
        return render(
            request,
            "payouts.html.j2",
            viewer,
            tab="payouts",
            page=page,
            balances=balances,
            options=options,
        )

    @app.get("/after-closure", response_class=HTMLResponse)
    def after_closure(request: Request, viewer: User):
        q = request.query_params
        with erp_engine().connect() as conn:
            options = queries.filter_options(conn)
            page = queries.list_after_closure(
                conn, agreement_id=_str(q.get("agreement_id")), page=_int(q.get("page")) or 1
            )
        return render(
            request, "after_closure.html.j2", viewer, tab="after", page=page, options=options
        )

    @app.get("/actions", response_class=HTMLResponse)
    def actions_page(request: Request, viewer: User):
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

    @app.post("/actions")
    def run_action(
        request: Request,
        viewer: User,
        action: Annotated[str, Form()],
        agreement_id: Annotated[str, Form()],
        dag_id: Annotated[str, Form()] = "",
        business_date: Annotated[str, Form()] = "",
    ):
        require_same_origin(request)
        with erp_engine().connect() as conn:
            known = {a["agreement_id"] for a in queries.filter_options(conn).agreements}
        if agreement_id not in known:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Unknown agreement {agreement_id!r}")
        day = None
        if action in actions.ACTION_DAGS:
            dag_id, logical_date = actions.ACTION_DAGS[action], None
        elif action == "rerun_day":
            day = _date(business_date)
            if dag_id not in actions.RERUN_DAGS or day is None:
                raise HTTPException(
                    status.HTTP_400_BAD_REQUEST, "Choose a flow and a day to re-run"
                )
            logical_date = actions.rerun_logical_date(dag_id, day)
        else:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Unknown action {action!r}")
        require_trigger(viewer, dag_id)
        note = f"Inkasso view: {action} for {agreement_id} by {viewer.name}"
        result = actions.trigger_dag(
            airflow_api_url(request),
            viewer.token,
            dag_id,
            {"agreement_id": agreement_id},
            logical_date=logical_date,
            note=note,
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
        return RedirectResponse(
            f"{URL_PREFIX}/actions?{urlencode({'message': message})}",
            status_code=status.HTTP_303_SEE_OTHER,
        )

    return app


app = create_app()
