"""When is a delivery claim abandoned, so that the next run may resume the file?

A claim names its deliverer (host:pid:token). The deliverer is gone when, on this host, its
process is dead; on PostgreSQL, when nobody holds the advisory lock of its token (a killed
worker on another machine loses its session, and the lock with it); on SQLite, with no way to
ask another host, when the claim is older than the lease. A live deliverer's claim is never
taken over: that would upload and record the file twice.
"""

from __future__ import annotations

import multiprocessing
import socket
from datetime import UTC, datetime, timedelta

from inkasso.locks import CLAIM_LEASE, DeliveryClaim, claim_abandoned

OTHER_HOST = "worker-on-another-machine"


def _abandoned(engine, claimed_by, claimed_at=None) -> bool:
    with engine.connect() as conn:
        return claim_abandoned(conn, claimed_by, claimed_at or datetime.now(UTC))


def test_a_claim_of_a_live_deliverer_in_this_process_is_kept_and_released_after(erp_engine):
    with DeliveryClaim(erp_engine) as claim:
        assert not _abandoned(erp_engine, claim.who)
    assert _abandoned(erp_engine, claim.who)  # it ended without handing the file back


def test_a_claim_of_a_dead_process_on_this_host_is_abandoned_at_once(erp_engine):
    child = multiprocessing.get_context("fork").Process(target=lambda: None)
    child.start()
    child.join()
    claimed_by = f"{socket.gethostname()}:{child.pid}:0123456789abcdef"
    assert _abandoned(erp_engine, claimed_by)


def test_a_claim_from_another_host_is_judged_by_its_lock_or_its_age(erp_engine):
    with DeliveryClaim(erp_engine) as live:
        token = live.token
        claimed_by = f"{OTHER_HOST}:4242:{token}"
        long_ago = datetime.now(UTC) - CLAIM_LEASE - timedelta(minutes=1)
        if erp_engine.dialect.name == "postgresql":
            # its session holds the lock: alive, however old the claim
            assert not _abandoned(erp_engine, claimed_by, long_ago)
        else:  # SQLite cannot ask another host: a recent claim is kept, an old one taken over
            assert not _abandoned(erp_engine, claimed_by)
            assert _abandoned(erp_engine, claimed_by, long_ago)
    if erp_engine.dialect.name == "postgresql":
        assert _abandoned(erp_engine, claimed_by)  # session gone: resumed at once


def test_an_unreadable_claim_is_abandoned(erp_engine):
    assert _abandoned(erp_engine, None)
    assert _abandoned(erp_engine, "someone")
    assert _abandoned(erp_engine, "host:pid:token")
