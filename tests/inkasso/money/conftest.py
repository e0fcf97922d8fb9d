"""The money tests' shared fixture: an empty world in each booking mode (``world.py``)."""

from __future__ import annotations

import pytest

from tests.inkasso.money.world import new_world


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    return new_world(erp_engine, tmp_path / "files", request.param)
