"""Airflow plugin: the Inkasso view (cases, files, holds, payouts) inside the Airflow UI.

Only the registration lives here; the view is ``inkasso.ui`` (its own token check: plugin apps
are not protected by Airflow's authentication).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from inkasso.ui.app import URL_PREFIX, app


class InkassoViewPlugin(AirflowPlugin):
    """Mounts the view under /inkasso and adds "Inkasso" to the UI's navigation."""

    name = "inkasso_ui"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Inkasso"}]
    external_views = [
        {
            "name": "Inkasso",
            "href": f"{URL_PREFIX}/cases",
            "destination": "nav",
            "url_route": "inkasso",
            "nav_top_level": True,
        }
    ]
