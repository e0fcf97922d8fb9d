"""The streamed run of one agreement and day: every chunk of marked invoices through the rules
into opened cases and the new-case file, inside the caller's transaction
(``inkasso.dispatch.prepare``)."""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import closing
from datetime import date, datetime
from functools import partial
from pathlib import Path

import pandas as pd
from sqlalchemy import and_, func, text, update

from inkasso.agreements import Agreement
from inkasso.checks import ChunkedCheck
from inkasso.db.schema import ink_case_event, ink_dispatch_hold, ink_file_log
from inkasso.delivery.outbox import free_file_name, log_outgoing_file
from inkasso.dispatch import erp
from inkasso.dispatch.cases import CASE_STAGE, CaseFile, open_cases
from inkasso.dispatch.file import (
    NEW_CASES,
    HashingFile,
    build_detail_frame,
    unwritable,
    write_new_file,
)
from inkasso.dispatch.orphans import settle_orphans
from inkasso.dispatch.register import TablePersonRegister
from inkasso.dispatch.rules import apply_dispatch_rules
from inkasso.formats import load_layout, load_profile
from inkasso.formats.writer import StreamWriter
from inkasso.gates import gates_for, load_settings
from inkasso.stamps import case_opened_at

log = logging.getLogger(__name__)


class DispatchRun:
    """One agreement and day, streamed inside the caller's transaction (``prepare_new_cases``)."""

    def __init__(self, conn, agreement: Agreement, business_date: date, base, now, run_id):
        self.conn, self.agreement = conn, agreement
        self.business_date, self.now = business_date, now
        self.client = erp.read_client_row(conn, agreement.client_id)
        self.profile = load_profile(agreement.agency)
        self.spec = self.profile.files[NEW_CASES]
        self.layout = load_layout(self.spec.layout)
        self.folder = base / "outbox" / agreement.agreement_id
        self.file_name, self.final_path = free_file_name(
            conn,
            agreement.agreement_id,
            agreement.customer_no_at_agency,
            self.spec,
            now,
            self.folder,
        )
        # the file-log row first: its id goes on the cases; counts and checksum follow at the end
        self.file_id = log_outgoing_file(
            conn, agreement, NEW_CASES, business_date, self.file_name, self.final_path,
            now=now, run_id=run_id,
        )  # fmt: skip
        # the cases' opened_at: after every payment this run can read (the caller holds the
        # client's booking lock), so those count as taken off the amount sent
        opened_at = case_opened_at(conn, agreement.client_id, now)
        self.case_file = CaseFile(
            agreement.agreement_id, self.file_id, self.file_name, business_date, opened_at
        )
        fd, name = tempfile.mkstemp(prefix=f".{self.file_name}.", suffix=".part")
        self.tmp_path = Path(name)
        self.out = HashingFile(os.fdopen(fd, "wb"))
        self.writer: StreamWriter | None = None
        # case ids come from ink_case's primary key: unique across chunks without remembering them
        self.check = ChunkedCheck(NEW_CASES, unique_elsewhere=("case_id",))
        self.holds: dict[str, int] = {}
        self.held = self.cases = self.amount = self.seq = 0

    def close(self) -> None:
        """Close the temporary file (the caller removes it)."""
        self.out.close()

    def stream(self, cutoff: datetime, written: list) -> dict:
        """Every chunk of marked invoices through the rules into cases and the file; then finish.

        The file put into the outbox is appended to ``written`` at once (removed on failure).
        """
        conn, agreement = self.conn, self.agreement
        _replace_holds(conn, agreement.agreement_id, self.business_date, None)
        conn.execute(text("DROP TABLE IF EXISTS ink_stage_case"))
        CASE_STAGE.create(conn)
        erp.create_stages(conn)
        register = TablePersonRegister(conn)
        lookup = register.lookup_many if self.client["register_lookup"] else None
        settings = erp.ClientSettings(
            client_id=self.client["client_id"],
            min_collection_amount=int(self.client["min_collection_amount"]),
            register_lookup=bool(self.client["register_lookup"]),
        )
        gates = agreement_gates(agreement, self.business_date, self.client["currency"])
        writable = partial(unwritable, self.layout)
        read = 0
        with closing(erp.read_marked_invoices(conn, agreement.client_id, cutoff)) as chunks:
            for invoices in chunks:
                read += len(invoices)
                plan = apply_dispatch_rules(
                    invoices, settings, lookup, gates=gates, writable=writable
                )
                self._chunk(plan, invoices)
            log.info(
                "%s: %s marked invoices read, %s cases", agreement.agreement_id, read, self.cases
            )
        CASE_STAGE.drop(conn)
        log.info("%s: %s marked invoices read", agreement.agreement_id, read)
        result = {"holds": dict(sorted(self.holds.items())), "held_invoices": self.held}
        if self.cases == 0:
            erp.drop_stages(conn)
            conn.execute(ink_file_log.delete().where(ink_file_log.c.file_id == self.file_id))
            orphans = settle_orphans(
                conn, agreement, self.spec, self.layout, self.business_date, self.folder, None
            )
            log.info("%s: nothing to send (%s held back)", agreement.agreement_id, self.held)
            return result | {
                "status": "nothing_to_send",
                "cases": 0,
                "amount": 0,
                "orphans": orphans.notes,
            }
        return result | self._finish(written)

    def _chunk(self, plan, invoices: pd.DataFrame) -> None:
        """The chunk's holds, cases, events and address write-backs; its records into the file.

        A hold keeps the invoice's remaining amount and currency as read today, so that the
        day's report (and a backfill of it) tells the day's amount, not a later one."""
        conn = self.conn
        if len(plan.holds):
            amounts = (
                invoices[["invoice_id", "remaining_amount", "currency"]]
                .drop_duplicates("invoice_id")
                .rename(columns={"remaining_amount": "amount"})
                .astype({"amount": "Int64"})
            )
            rows = plan.holds.merge(amounts, on="invoice_id", how="left").assign(
                agreement_id=self.agreement.agreement_id, business_date=self.business_date
            )
            erp.copy_rows(conn, ink_dispatch_hold, rows)
            for reason, count in plan.holds["reason"].value_counts().items():
                self.holds[str(reason)] = self.holds.get(str(reason), 0) + int(count)
            self.held += len(plan.holds)
        cases = plan.cases
        if cases.empty:
            return
        ids = open_cases(conn, cases, self.seq, self.case_file)
        self.seq += len(cases)
        cases = cases.merge(ids, on="invoice_id", how="left")
        erp.stage_sent(conn, cases["invoice_id"], plan.invoice_address_updates)
        erp.stage_customer_addresses(conn, plan.customer_address_updates)
        frame = build_detail_frame(cases)
        writer = self._writer()
        first_line = writer.lines + writer.first_line  # the file line of the chunk's first case
        self.check.check(frame, first_line=first_line)
        if not self.profile.carries_reminder_count:  # the agency runs no reminders
            frame = frame.drop(columns=["reminder_count"])
        writer.append(frame)
        self.cases += len(cases)
        self.amount += int(cases["remaining_amount"].sum())

    def _writer(self) -> StreamWriter:
        if self.writer is None:
            client, agreement = self.client, self.agreement
            header = {
                "customer_no": agreement.customer_no_at_agency,
                "client_name": client["name"],
                "client_org_no": client["org_no"],
                "file_date": self.business_date,
                "currency": client["currency"],
                # used where the layout has the field (README, "Setting up a real agency")
                "payback_account": agreement.payback_account or client["default_bank_account"],
            }
            self.writer = StreamWriter(self.layout, self.out, header)
        return self.writer

    def _finish(self, written: list) -> dict:
        """Trailer, orphans, the file into the outbox, file log, invoices at collection."""
        conn, agreement = self.conn, self.agreement
        size = self.writer.finish()
        self.out.close()
        sha = self.out.hexdigest()
        orphans = settle_orphans(
            conn, agreement, self.spec, self.layout, self.business_date, self.folder,
            None, sha256=sha,
        )  # fmt: skip
        file_name, path = self.file_name, self.final_path
        if orphans.adopted is not None:
            file_name, path = orphans.adopted.name, orphans.adopted
            conn.execute(
                update(ink_case_event)
                .where(ink_case_event.c.file_id == self.file_id, ink_case_event.c.kind == "opened")
                .values(detail=func.replace(ink_case_event.c.detail, self.file_name, file_name))
            )
        else:
            write_new_file(path, self.tmp_path)  # refuses to overwrite
            written.append(path)
        conn.execute(
            update(ink_file_log)
            .where(ink_file_log.c.file_id == self.file_id)
            .values(
                file_name=file_name,
                path=str(path),
                sha256=sha,
                size_bytes=size,
                record_count=self.cases,
                amount_total=self.amount,
                detail="; ".join(orphans.notes) or None,
            )
        )
        changed = erp.set_invoices_at_collection(conn)
        if changed != self.cases:
            raise RuntimeError(
                f"{agreement.agreement_id}: {changed} invoices changed status, expected"
                f" {self.cases}; the ERP changed under the run - rolled back, nothing sent"
            )
        erp.update_customer_addresses(conn)
        erp.drop_stages(conn)
        log.info(
            "%s: wrote %s with %s cases, %s øre",
            agreement.agreement_id, file_name, self.cases, self.amount,
        )  # fmt: skip
        return {
            "status": "written",
            "file_name": file_name,
            "path": str(path),
            "cases": self.cases,
            "amount": self.amount,
            "orphans": orphans.notes,
        }


def agreement_gates(agreement: Agreement, business_date: date, currency: str):
    """The gates in force for the agreement on ``business_date`` (country defaults + its own)."""
    settings = load_settings(agreement.country, agreement.gates, where=agreement.agreement_id)
    return gates_for(
        settings,
        country=agreement.country,
        business_date=business_date,
        currency=currency,
        reminder_service=bool(agreement.reminder_service),
        reminder_level=agreement.reminder_level,
    )


def _replace_holds(
    conn, agreement_id: str, business_date: date, holds: pd.DataFrame | None
) -> None:
    """Remove the agreement's holds of the day (a rerun replaces them); add ``holds`` if given."""
    conn.execute(
        ink_dispatch_hold.delete().where(
            and_(
                ink_dispatch_hold.c.agreement_id == agreement_id,
                ink_dispatch_hold.c.business_date == business_date,
            )
        )
    )
    if holds is not None and len(holds):
        rows = holds.assign(agreement_id=agreement_id, business_date=business_date)
        erp.copy_rows(conn, ink_dispatch_hold, rows)
