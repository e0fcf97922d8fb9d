"""The agency agreements (``ink_agreement``): one type and one loader for every flow.

Dispatch, corrections, delivery and inbound all read the same row: who the agency is, how files
reach it and come back, the gates before sending and how collected money is booked. A new
agreement column goes here once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

# the agreements whose agency answers come back: automated (the agency's SFTP outbox) and
# manual export (a person drops the answers into <base>/manual_inbox/<agreement>/)
ANSWERING_MODES = ("sftp", "manual")


@dataclass(frozen=True, kw_only=True)
class Agreement:
    """One row of ``ink_agreement``: the agency, how files reach it and come back, and the
    client's settings for it."""

    agreement_id: str
    client_id: int
    agency: str
    country: str
    customer_no_at_agency: str
    # 'sftp' (automated) or 'manual' (files go through the manual outbox and inbox)
    mode: str
    sftp_conn_id: str | None = None
    reminder_service: bool = False
    # with reminder_service: the reminder level invoices go at (the gates require it)
    reminder_level: int | None = None
    # where the agency pays back to; None falls back to the client's default account
    payback_account: str | None = None
    # JSON overrides of the country's gates (include/rules/gates.yaml), None for none
    gates: str | None = None
    # the interim account a settlement-mode closure books collected money against
    interim_account: str = "1684"
    # 'bank' (the bank import books the agency's KID payouts) or 'settlement' (the closure does)
    booking_mode: str = "bank"

    @classmethod
    def from_row(cls, row) -> Agreement:
        """Build from a row mapping of ``ink_agreement`` (extra columns are ignored)."""
        return cls(**{f: row[f] for f in cls.__dataclass_fields__})

    def as_dict(self) -> dict:
        """Plain dict for XCom (``Agreement(**d)`` builds it again)."""
        return asdict(self)


def load_agreements(
    engine: Engine,
    *,
    agreement_id: str | None = None,
    client_id: int | None = None,
    agency: str | None = None,
    modes: tuple[str, ...] | None = None,
) -> list[Agreement]:
    """The active agreements, optionally narrowed to one agreement, client or agency, and to
    the delivery ``modes`` given (None: every mode)."""
    # imported here, not at the top: DAG files import this module at parse time for
    # ANSWERING_MODES, and the schema is not needed to parse a DAG
    from sqlalchemy import select

    from inkasso.db.schema import ink_agreement

    t = ink_agreement
    stmt = select(t).where(t.c.active.is_(True)).order_by(t.c.agreement_id)
    if modes is not None:
        stmt = stmt.where(t.c.mode.in_(modes))
    if agreement_id:
        stmt = stmt.where(t.c.agreement_id == agreement_id)
    if client_id is not None:
        stmt = stmt.where(t.c.client_id == client_id)
    if agency:
        stmt = stmt.where(t.c.agency == agency)
    with engine.connect() as conn:
        return [Agreement.from_row(r) for r in conn.execute(stmt).mappings()]


def agreements_for_run(params: dict | None, modes: tuple[str, ...] | None = None) -> list[dict]:
    """The active agreements a run covers (its Params may narrow them), as dicts for XCom."""
    from inkasso.db.engine import erp_engine

    params = params or {}
    found = load_agreements(
        erp_engine(),
        agreement_id=params.get("agreement_id"),
        client_id=params.get("client_id"),
        agency=params.get("agency"),
        modes=modes,
    )
    return [a.as_dict() for a in found]
