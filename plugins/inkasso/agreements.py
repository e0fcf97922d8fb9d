"""The agreements whose agency answers come back (SFTP outbox, or the manual inbox), with the
settings the inbound flow needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Engine, select

from inkasso.db.schema import ink_agreement

RECEIVABLES_ACCOUNT = "1500"  # customer receivables, credited when a closure settles an invoice


@dataclass(frozen=True)
class InboundAgreement:
    """One agreement: agency, customer number, where answers arrive, and settlement settings."""

    agreement_id: str
    client_id: int
    agency: str
    customer_no_at_agency: str
    sftp_conn_id: str | None
    interim_account: str = "1684"
    booking_mode: str = "bank"
    # 'sftp': answers are read from the agency's outbox; 'manual': from <base>/manual_inbox/<id>/
    mode: str = "sftp"

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
    """Active agreements, automated (``sftp``) and manual export alike (a person drops a manual
    agency's answers into its inbox), optionally narrowed to one agreement/client/agency."""
    t = ink_agreement
    stmt = (
        select(t)
        .where(t.c.active.is_(True), t.c.mode.in_(("sftp", "manual")))
        .order_by(t.c.agreement_id)
    )
    if agreement_id:
        stmt = stmt.where(t.c.agreement_id == agreement_id)
    if client_id is not None:
        stmt = stmt.where(t.c.client_id == client_id)
    if agency:
        stmt = stmt.where(t.c.agency == agency)
    with engine.connect() as conn:
        return [InboundAgreement.from_row(r) for r in conn.execute(stmt).mappings()]
