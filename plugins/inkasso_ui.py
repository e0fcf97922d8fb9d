"""Airflow plugin: the Inkasso view (cases, files, holds, payouts) inside the Airflow UI.

Only the registration lives here; the view is ``inkasso.ui`` (its own token check: plugin apps
are not protected by Airflow's authentication).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from inkasso.ui import URL_PREFIX


class ViewOnFirstRequest:
    """The view's ASGI app, imported on its first request.

    Every task process loads the plugins (for their macros), so importing the view here would
    cost each task FastAPI, the templates and the view's queries, about a second of CPU. Only
    the API server ever calls this object.
    """

    app = None

    async def __call__(self, scope, receive, send) -> None:
        """Hand the request to the view, importing it the first time."""
        if ViewOnFirstRequest.app is None:
            from inkasso.ui.app import app

            ViewOnFirstRequest.app = app
        await ViewOnFirstRequest.app(scope, receive, send)


class InkassoViewPlugin(AirflowPlugin):
    """Mounts the view under /inkasso and adds "Inkasso" to the UI's navigation."""

    name = "inkasso_ui"
    fastapi_apps = [{"app": ViewOnFirstRequest(), "url_prefix": URL_PREFIX, "name": "Inkasso"}]
    external_views = [
        {
            "name": "Inkasso",
            "href": f"{URL_PREFIX}/cases",
            "destination": "nav",
            "url_route": "inkasso",
            "nav_top_level": True,
        }
    ]
