"""The money tests' world, in each booking mode (see ``world.py``)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from inkasso.db.schema import ink_agreement
from tests.inkasso.money.world import AGENCY_ACCOUNT, AGREEMENT, CLIENT, CUSTOMER_NO, World


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    from airflow.sdk import ObjectStoragePath

    with erp_engine.begin() as conn:
        conn.execute(
            insert(ink_agreement).values(
                agreement_id=AGREEMENT, client_id=CLIENT, agency="lowell", country="SE",
                customer_no_at_agency=CUSTOMER_NO, agency_bank_account=AGENCY_ACCOUNT,
                mode="sftp", sftp_conn_id="c_lowell", booking_mode=request.param,
            )
        )  # fmt: skip
    return World(erp_engine, ObjectStoragePath(f"file://{tmp_path / 'files'}"), request.param)
