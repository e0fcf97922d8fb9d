"""The agreements whose agency answers over SFTP, with the settings the inbound flow needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Engine, select

from inkasso.db.schema import ink_agreement

RECEIVABLES_ACCOUNT = "1500"  # customer receivables, credited when a closure settles an invoice


@dataclass(frozen=True)
class InboundAgreement:
    """One automated agreement: agency, customer number, connection and settlement settings."""

    agreement_id: str
    client_id: int
    agency: str
    customer_no_at_agency: str
    sftp_conn_id: str | None
    interim_account: str = "1684"
    booking_mode: str = "bank"

    @classmethod
    def from_row(cls, row) -> InboundAgreement:
        """Build from a row mapping of ``ink_agreement`` (extra columns are ignored)."""
        return cls(**{f: row[f] for f in cls.__dataclass_fields__})

    def as_dict(self) -> dict:
        """Plain dict for XCom."""
        return asdict(self)


def load_inbound_agreements(
    engine: Engine,
    *,
    agreement_id: str | None = None,
    client_id: int | None = None,
    agency: str | None = None,
) -> list[InboundAgreement]:
    """Active automated (``sftp``) agreements, optionally narrowed to one agreement/client/agency."""
    t = ink_agreement
    stmt = select(t).where(t.c.active.is_(True), t.c.mode == "sftp").order_by(t.c.agreement_id)
    if agreement_id:
        stmt = stmt.where(t.c.agreement_id == agreement_id)
    if client_id is not None:
        stmt = stmt.where(t.c.client_id == client_id)
    if agency:
        stmt = stmt.where(t.c.agency == agency)
    with engine.connect() as conn:
        return [InboundAgreement.from_row(r) for r in conn.execute(stmt).mappings()]
