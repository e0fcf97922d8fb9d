"""Who is asking: Airflow's own JWT, checked on every request of the Inkasso view.

Plugin FastAPI apps are mounted in Airflow's API server without its authentication, so the view
checks the token itself, the way ``airflow.api_fastapi.core_api.security.get_user`` does: an
``Authorization: Bearer`` header wins, else the ``_token`` cookie the UI's login sets (the view
runs in an iframe of the same origin, so the browser sends it). The token is validated by the
configured auth manager (signature, expiry, audience, revocation) every time; nothing set by
other middleware is trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, Request, status

TOKEN_COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN


@dataclass(frozen=True)
class ViewUser:
    """The authenticated Airflow user and the raw token (forwarded to Airflow's REST API)."""

    user: object
    token: str

    @property
    def name(self) -> str:
        """The user's name as Airflow shows it."""
        return str(self.user.get_name())


def request_token(request: Request) -> str | None:
    """The JWT of the request: a bearer header first, then the UI's cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(TOKEN_COOKIE) or None


async def current_user(request: Request) -> ViewUser:
    """FastAPI dependency: the authenticated user, or 401 (no or expired token) / 403 (invalid)."""
    from airflow.api_fastapi.app import get_auth_manager
    from jwt import ExpiredSignatureError, InvalidTokenError

    token = request_token(request)
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Log in to Airflow to use the Inkasso view"
        )
    try:
        user = await get_auth_manager().get_user_from_token(token)
    except ExpiredSignatureError:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Your Airflow session has expired"
        ) from None
    except InvalidTokenError:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Invalid Airflow token") from None
    if not can_read(user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "You may not read DAGs in this Airflow")
    return ViewUser(user=user, token=token)


def can_read(user) -> bool:
    """May the user read the pipeline's DAGs (and so its business data)?"""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().is_authorized_dag(method="GET", user=user)


def can_trigger(user, dag_id: str) -> bool:
    """May the user trigger ``dag_id`` (create a DAG run)? Required for every action."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )

    return get_auth_manager().is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
    )


def require_trigger(viewer: ViewUser, dag_id: str) -> None:
    """403 unless the user may trigger ``dag_id``."""
    if not can_trigger(viewer.user, dag_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{viewer.name} may not trigger {dag_id} in this Airflow"
        )


def require_same_origin(request: Request) -> None:
    """Refuse a form post from another site (the cookie is SameSite=Lax; this checks anyway)."""
    origin = request.headers.get("origin")
    if origin:
        # the host only: a TLS-terminating proxy in front makes the schemes differ
        from urllib.parse import urlsplit

        if urlsplit(origin).netloc != request.url.netloc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Cross-site request refused")
