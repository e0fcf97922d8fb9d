"""Fixtures of the Inkasso view's tests: the small demo-like ERP and tokens of Airflow users."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def ui_data(request, tmp_path_factory):
    """The demo-like dataset behind the ``erp_db`` connection, once per module and database
    (building it runs a real dispatch: seconds); returns the ids the tests look at."""
    from ui_dataset import build_dataset, drop_postgres, new_postgres_url

    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import upgrade
    from inkasso.db.schema import erp_metadata
    from inkasso.ui import app as ui_app

    tmp = tmp_path_factory.mktemp("ui-data")
    url = f"sqlite:///{tmp / 'erp.sqlite'}" if request.param == "sqlite" else new_postgres_url()
    engine = engine_for_url(url)
    erp_metadata.create_all(engine)
    upgrade(engine)
    base = tmp / "files"
    base.mkdir()
    saved = {k: os.environ.get(k) for k in ("INKASSO_BASE", "AIRFLOW_CONN_ERP_DB")}
    os.environ["INKASSO_BASE"] = str(base)
    os.environ["AIRFLOW_CONN_ERP_DB"] = json.dumps(
        {"conn_type": "generic", "extra": {"sqlalchemy_url": url}}
    )
    ui_app._erp_url_cache.clear()  # each module and backend has its own database
    facts = build_dataset(engine, base)
    yield facts | {"engine": engine, "base": base, "url": url}
    ui_app._erp_url_cache.clear()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    engine.dispose()
    if request.param == "postgres":
        drop_postgres(url)
