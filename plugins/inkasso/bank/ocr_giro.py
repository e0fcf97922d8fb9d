"""Nets OCR giro files (Norway): read with `netsgiro`, checked against their own control records.

Each 80-character line is parsed by netsgiro's record classes one at a time, so that a broken
record is reported with its line and, where it can be told, its field. The record sequence and the
end records (number of transactions, number of records, total amount) are then checked against
the body here: netsgiro itself does not check them when reading.

A transmission can also hold AvtaleGiro assignments (agreement updates, payment requests); those
are never payments received. Money paid through AvtaleGiro arrives as OCR giro transactions.

Reversals (transaction types 18 and 20, from terminals) are negative in the payments frame; Nets
adds them to its end-record totals unsigned, so with reversals the sum of the amounts is lower
than ``control_amount``.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import netsgiro
from netsgiro import records as nr

from inkasso.bank.model import (
    PAYMENTS,
    BankChunk,
    BankFile,
    BankFileError,
    payments_frame,
    whole_file,
)
from inkasso.formats.codec import ascii_digits, control_character
from inkasso.formats.reader import DEFAULT_CHUNK_ROWS, _line_blocks, _open

FORMAT = "ocr_giro"
AGREEMENTS = "avtalegiro_agreements"
PAYMENT_REQUESTS = "avtalegiro_payment_requests"
RECORD_LENGTH = 80
ENCODING = "iso-8859-1"

_RECORD_CLASSES: dict[int, type[nr.Record]] = {
    10: nr.TransmissionStart,
    20: nr.AssignmentStart,
    30: nr.TransactionAmountItem1,
    31: nr.TransactionAmountItem2,
    32: nr.TransactionAmountItem3,
    49: nr.TransactionSpecification,
    70: nr.AvtaleGiroAgreement,
    88: nr.AssignmentEnd,
    89: nr.TransmissionEnd,
}
_SERVICE_CODES = {"00", "09", "21"}
_REVERSALS = {
    netsgiro.TransactionType.REVERSING_WITH_KID,
    netsgiro.TransactionType.REVERSING_WITH_TEXT,
}
_TRANSACTION_TYPES = {
    netsgiro.ServiceCode.OCR_GIRO: set(range(10, 22)),
    netsgiro.ServiceCode.AVTALEGIRO: {2, 21, 93, 94},
}
_WITH_TEXT = {
    netsgiro.TransactionType.REVERSING_WITH_TEXT,
    netsgiro.TransactionType.PURCHASE_WITH_TEXT,
}

# Fields checked when netsgiro rejects a record, to name the field: (name, start, end, kind),
# 0-based slice positions from the Nets system manual. Kinds: digits, date (DDMMYY, may be
# 000000), kid (right-aligned digits, blank-padded), zeros (filler).
_FieldSpec = tuple[str, int, int, str]
_END_AMOUNTS: tuple[_FieldSpec, ...] = (
    ("num_transactions", 8, 16, "digits"),
    ("num_records", 16, 24, "digits"),
    ("total_amount", 24, 41, "digits"),
)
_FIELDS: dict[tuple[str, int], tuple[_FieldSpec, ...]] = {
    ("00", 10): (
        ("data_transmitter", 8, 16, "digits"),
        ("transmission_number", 16, 23, "digits"),
        ("data_recipient", 23, 31, "digits"),
        ("filler", 31, 80, "zeros"),
    ),
    ("00", 89): (*_END_AMOUNTS, ("nets_date", 41, 47, "date"), ("filler", 47, 80, "zeros")),
    ("09", 20): (
        ("agreement_id", 8, 17, "digits"),
        ("assignment_number", 17, 24, "digits"),
        ("assignment_account", 24, 35, "digits"),
        ("filler", 35, 80, "zeros"),
    ),
    ("09", 88): (
        *_END_AMOUNTS,
        ("nets_date", 41, 47, "date"),
        ("nets_date_earliest", 47, 53, "date"),
        ("nets_date_latest", 53, 59, "date"),
        ("filler", 59, 80, "zeros"),
    ),
    ("09", 30): (
        ("transaction_number", 8, 15, "digits"),
        ("nets_date", 15, 21, "date"),
        ("centre_id", 21, 23, "digits"),
        ("day_code", 23, 25, "digits"),
        ("partial_settlement_number", 25, 26, "digits"),
        ("partial_settlement_serial_number", 26, 31, "digits"),
        ("amount", 32, 49, "digits"),
        ("kid", 49, 74, "kid"),
        ("filler", 74, 80, "zeros"),
    ),
    ("09", 31): (
        ("transaction_number", 8, 15, "digits"),
        ("form_number", 15, 25, "digits"),
        ("reference", 25, 34, "digits"),
        ("bank_date", 41, 47, "date"),
        ("debit_account", 47, 58, "digits"),
        ("filler", 58, 80, "zeros"),
    ),
    ("09", 32): (("transaction_number", 8, 15, "digits"),),
    ("21", 20): (
        ("assignment_number", 17, 24, "digits"),
        ("assignment_account", 24, 35, "digits"),
    ),
    ("21", 88): (("num_transactions", 8, 16, "digits"), ("num_records", 16, 24, "digits")),
    ("21", 30): (
        ("transaction_number", 8, 15, "digits"),
        ("due_date", 15, 21, "date"),
        ("amount", 32, 49, "digits"),
        ("kid", 49, 74, "kid"),
    ),
    ("21", 31): (("transaction_number", 8, 15, "digits"),),
    ("21", 49): (("transaction_number", 8, 15, "digits"),),
    ("21", 70): (
        ("transaction_number", 8, 15, "digits"),
        ("registration_type", 15, 16, "digits"),
        ("kid", 16, 41, "kid"),
    ),
}
_KID = re.compile(" *[0-9]*")


def read_ocr_giro(data: bytes, file_name: str) -> BankFile:
    """Read an OCR giro file (ISO-8859-1) into a `BankFile`; raise `BankFileError` if it is broken.

    The whole file as one chunk of ``iter_ocr_giro``: the whole file is rejected when a record
    is malformed, out of place, or an end record's number of transactions, number of records or
    total amount disagrees with the body.
    """
    return whole_file(iter_ocr_giro(data, file_name, chunk_rows=_WHOLE))


_WHOLE = 1 << 62  # chunk_rows for "the whole file as one chunk"


def _parse_line(file_name: str, number: int, text: str) -> tuple[int, nr.Record]:
    """Parse one line with netsgiro's record class for its record type."""
    if len(text) != RECORD_LENGTH:
        raise BankFileError(
            file_name,
            number,
            None,
            f"record is {len(text)} characters long, expected {RECORD_LENGTH}",
        )
    if text[:2] != "NY":
        raise BankFileError(file_name, number, "format_code", f"expected 'NY', got {text[:2]!r}")
    service = text[2:4]
    if service not in _SERVICE_CODES:
        raise BankFileError(file_name, number, "service_code", f"unknown service code {service!r}")
    # ASCII digits only: '²'.isdigit() is True but int('²') raises
    record_type = int(text[6:8]) if ascii_digits(text[6:8]) else None
    record_class = _RECORD_CLASSES.get(record_type)
    if record_class is None:
        raise BankFileError(file_name, number, "record_type", f"unknown record type {text[6:8]!r}")
    char = control_character(text)
    if char is not None:
        column = _control_column(text)
        raise BankFileError(
            file_name,
            number,
            _field_at(service, record_type, column - 1),
            f"control character {char} at column {column}",
        )
    try:
        return number, record_class.from_string(text)
    except Exception as exc:  # netsgiro is third-party: whatever it raises, the file is broken
        field_name, reason = _diagnose(service, record_type, text)
        if field_name is None:
            reason = f"not a valid {record_class.__name__} record ({exc})"
        raise BankFileError(file_name, number, field_name, reason) from exc


def _control_column(text: str) -> int:
    """1-based column of the first control character of ``text``."""
    return next(i for i, c in enumerate(text, start=1) if control_character(c))


def _field_at(service: str, record_type: int, position: int) -> str | None:
    """The name of the field at 0-based ``position`` of a record, when the table knows it."""
    for name, start, end, _ in _FIELDS.get((service, record_type), ()):
        if start <= position < end:
            return name
    return None


def _diagnose(service: str, record_type: int, text: str) -> tuple[str | None, str]:
    """Name the first field of a rejected record whose content is wrong, if one can be told."""
    for name, start, end, kind in _FIELDS.get((service, record_type), ()):
        value = text[start:end]
        if kind == "kid":
            if not _KID.fullmatch(value):
                return name, f"a KID has only digits, right-aligned: {value!r}"
        elif kind == "zeros":
            if value.strip("0"):
                return name, f"must be zeros: {value!r}"
        elif not ascii_digits(value):
            return name, f"not a number: {value!r}"
        elif kind == "date" and value != "000000":
            try:
                datetime.datetime.strptime(value, "%d%m%y")
            except ValueError:
                return name, f"not a date (DDMMYY): {value!r}"
    return None, ""


@dataclass
class _Assignment:
    """One assignment as the structure check saw it: where it starts, its records and transactions."""

    start_line: int
    record: nr.AssignmentStart
    end: nr.AssignmentEnd | None = None
    records: int = 1  # its start record so far
    amount: int = 0  # sum of its amount item 1 records, øre
    transactions: int = 0  # set when it is closed
    first_lines: dict[int, int] = field(default_factory=dict)  # transaction number -> its line


@dataclass
class _Transaction:
    """The transaction being read: its first line, number, type and record types so far."""

    line: int
    number: int
    transaction_type: int
    record_types: list[int]
    records: list[nr.Record] = field(default_factory=list)


class _StructureCheck:
    """Walks the records in order: each must stand where it may, each end record match its body."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.assignments: list[_Assignment] = []
        self.current: _Assignment | None = None
        self.transaction: _Transaction | None = None
        self.rows: list[dict] = []  # payments completed since the caller last took them

    def fail(self, line: int, field_name: str | None, reason: str) -> BankFileError:
        """The error to raise for this file."""
        return BankFileError(self.file_name, line, field_name, reason)

    def run(self, parsed: list[tuple[int, nr.Record]]) -> list[_Assignment]:
        """Check the whole file; return its assignments with their end records."""
        self.begin(*parsed[0])
        self.ends_with(*parsed[-1])
        for line, record in parsed[1:-1]:
            self.record(line, record)
        self.finish(*parsed[-1], len(parsed))
        return self.assignments

    def begin(self, line: int, first: nr.Record) -> None:
        """The first record must start the transmission."""
        if not isinstance(first, nr.TransmissionStart):
            raise self.fail(
                line, "record_type", "a file starts with a transmission start record (10)"
            )

    def ends_with(self, line: int, last: nr.Record) -> None:
        """The last record must end the transmission."""
        if not isinstance(last, nr.TransmissionEnd):
            raise self.fail(
                line,
                "record_type",
                f"the file ends with a record of type {int(last.RECORD_TYPE)}: its transmission "
                "end record (89) is missing",
            )

    def finish(self, line: int, last: nr.TransmissionEnd, records: int) -> None:
        """After the body: every assignment closed, the transmission end record true."""
        if self.current is not None:
            raise self.unclosed(line)
        self.transmission_end(line, last, records)

    def unclosed(self, line: int) -> BankFileError:
        """The error for an assignment that never got its end record."""
        return self.fail(
            line,
            "record_type",
            f"the assignment started on line {self.current.start_line} has no end record (88)",
        )

    def record(self, line: int, record: nr.Record) -> None:
        """Check one record of the body (between the transmission start and end)."""
        if isinstance(record, nr.TransmissionStart | nr.TransmissionEnd):
            raise self.fail(
                line, "record_type", "a transmission start or end record inside the file"
            )
        if isinstance(record, nr.AssignmentStart):
            self.assignment_start(line, record)
            return
        if self.current is None:
            raise self.fail(
                line, "record_type", "a record outside an assignment (no start record 20)"
            )
        self.current.records += 1
        if record.service_code != self.current.record.service_code:
            raise self.fail(
                line,
                "service_code",
                f"service code {int(record.service_code):02d} in an assignment of "
                f"{int(self.current.record.service_code):02d}",
            )
        if isinstance(record, nr.AssignmentEnd):
            self.assignment_end(line, record)
        elif int(record.RECORD_TYPE) in (30, 70):
            self.transaction_start(line, record)
        else:
            self.transaction_continued(line, record)

    def assignment_start(self, line: int, record: nr.AssignmentStart) -> None:
        """Open an assignment; the one before must be closed, its number not seen before."""
        if self.current is not None:
            raise self.unclosed(line)
        if any(a.record.assignment_number == record.assignment_number for a in self.assignments):
            raise self.fail(
                line, "assignment_number", f"assignment {record.assignment_number} occurs twice"
            )
        self.current, self.transaction = _Assignment(line, record), None

    def transaction_start(self, line: int, record: nr.TransactionRecord) -> None:
        """Open a transaction (amount item 1, or an AvtaleGiro agreement)."""
        self.transaction_complete()
        number, transaction_type = record.transaction_number, int(record.transaction_type)
        if number in self.current.first_lines:
            raise self.fail(
                line, "transaction_number", f"transaction {number} occurs twice in the assignment"
            )
        if transaction_type not in _TRANSACTION_TYPES[record.service_code]:
            raise self.fail(
                line, "transaction_type", f"unknown transaction type {transaction_type:02d}"
            )
        self.current.first_lines[number] = line
        record_type = int(record.RECORD_TYPE)
        self.transaction = _Transaction(line, number, transaction_type, [record_type], [record])
        if record_type == 30:
            self.current.amount += record.amount

    def transaction_continued(self, line: int, record: nr.TransactionRecord) -> None:
        """Check a later record of the open transaction (amount items 2 and 3, specification)."""
        transaction, record_type = self.transaction, int(record.RECORD_TYPE)
        if transaction is None or record.transaction_number != transaction.number:
            raise self.fail(
                line,
                "transaction_number",
                f"record {record_type} of transaction {record.transaction_number} does not follow "
                "its amount item 1 record (30)",
            )
        if int(record.transaction_type) != transaction.transaction_type:
            raise self.fail(
                line,
                "transaction_type",
                f"transaction type {int(record.transaction_type):02d} differs from "
                f"{transaction.transaction_type:02d} on line {transaction.line}",
            )
        allowed_after = {31: (30,), 32: (31,), 49: (31, 49)}[record_type]
        if transaction.record_types[-1] not in allowed_after or (
            record_type == 32 and transaction.transaction_type not in _WITH_TEXT
        ):
            raise self.fail(
                line,
                "record_type",
                f"record {record_type} out of place in transaction {transaction.number}",
            )
        transaction.record_types.append(record_type)
        transaction.records.append(record)

    def transaction_complete(self) -> None:
        """Check the open transaction has all its records."""
        transaction = self.transaction
        if transaction is None:
            return
        if transaction.record_types[0] == 30 and 31 not in transaction.record_types:
            raise self.fail(
                transaction.line, "record_type", "transaction has no amount item 2 record (31)"
            )
        ocr = self.current.record.service_code == netsgiro.ServiceCode.OCR_GIRO
        if (
            ocr
            and transaction.transaction_type in _WITH_TEXT
            and 32 not in transaction.record_types
        ):
            raise self.fail(
                transaction.line, "record_type", "transaction has no amount item 3 record (32)"
            )
        if ocr and transaction.record_types[0] == 30:
            self.rows.append(_row(self.current.record, transaction))

    def assignment_end(self, line: int, end: nr.AssignmentEnd) -> None:
        """Close the assignment; its end record must state what its body holds."""
        self.transaction_complete()
        assignment = self.current
        if end.assignment_type != assignment.record.assignment_type:
            raise self.fail(
                line,
                "assignment_type",
                f"end record of type {int(end.assignment_type):02d} for an assignment of type "
                f"{int(assignment.record.assignment_type):02d}",
            )
        self.compare(line, "num_transactions", end.num_transactions, len(assignment.first_lines))
        self.compare(line, "num_records", end.num_records, assignment.records)
        if end.total_amount is not None or assignment.amount:
            self.compare(line, "total_amount", end.total_amount or 0, assignment.amount)
        assignment.end = end
        assignment.transactions = len(assignment.first_lines)
        self.assignments.append(assignment)
        self.current, self.transaction = None, None

    def transmission_end(self, line: int, end: nr.TransmissionEnd, records: int) -> None:
        """The transmission end record must state what the whole file holds."""
        transactions = sum(a.transactions for a in self.assignments)
        self.compare(line, "num_transactions", end.num_transactions, transactions)
        self.compare(line, "num_records", end.num_records, records)
        self.compare(
            line, "total_amount", end.total_amount, sum(a.amount for a in self.assignments)
        )

    def compare(self, line: int, field_name: str, stated: int, counted: int) -> None:
        """Raise when an end record states something other than what the body holds."""
        if stated != counted:
            raise self.fail(
                line, field_name, f"end record states {stated}, the body holds {counted}"
            )


def _row(start: nr.AssignmentStart, transaction: _Transaction) -> dict:
    """One payments-frame row from a transaction's records (30, 31, ...), as `_payment_row`."""
    item1, item2 = transaction.records[0], transaction.records[1]
    return _frame_row(
        ref=f"{start.assignment_number}-{transaction.number:07d}",
        ore=int(item1.amount),
        reversal=transaction.transaction_type in _REVERSALS,
        debit_account=item2.debit_account,
        kid=item1.kid,
        payment_date=item1.nets_date,
        payee_account=start.assignment_account,
        line=transaction.line,
    )


def _frame_row(*, ref, ore, reversal, debit_account, kid, payment_date, payee_account, line):
    """The payments-frame row both readers make: reversals negative, an all-zero payer blank."""
    debit_account = debit_account or ""
    return {
        "payment_ref": ref,
        "payer_account": "" if set(debit_account) <= {"0"} else debit_account,
        "reference": kid or "",
        "amount": -ore if reversal else ore,
        "payment_date": payment_date,
        "payee_account": payee_account,
        "currency": "NOK",
        "payer_name": "",
        "line": line,
    }


def iter_ocr_giro(
    source: bytes | str | os.PathLike | IO[bytes],
    file_name: str,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[BankChunk]:
    """Read an OCR giro file in chunks of at most ``chunk_rows`` lines; yield a `BankChunk` each.

    ``source`` is the file's bytes, a path or a binary stream. Each line is checked as by
    ``read_ocr_giro`` and fed to the same structure check, whose end-record comparisons are
    made at the end: the last chunk (with the controls and the file's kind) is yielded only
    once the whole file has passed, so nothing read is valid before the iterator is exhausted.
    Memory is bounded by a chunk (one open transaction is carried between chunks).
    """
    check = _StructureCheck(file_name)
    held: tuple[int, nr.Record] | None = None  # the last record so far: it may be the end
    count, index = 0, 0
    with _open(source) as stream:
        for block, first, last in _line_blocks(stream, chunk_rows):
            if first == 1 and block.startswith(b"\xef\xbb\xbf"):
                raise BankFileError(
                    file_name,
                    1,
                    None,
                    f"starts with a UTF-8 byte order mark: OCR giro is {ENCODING}",
                )
            lines = [line.removesuffix("\r") for line in block.decode(ENCODING).split("\n")]
            if last:
                while lines and not lines[-1].strip():
                    lines.pop()
            elif lines and lines[-1] == "":
                lines.pop()  # the block ends after a LF
            parsed = [_parse_line(file_name, first + i, text) for i, text in enumerate(lines)]
            if parsed and count == 0:
                check.begin(*parsed[0])
            final = parsed[-1] if parsed else held  # the last record so far
            if last:
                if final is None:
                    raise BankFileError(file_name, None, None, "the file is empty")
                check.ends_with(*final)
            body = ([held] if held is not None else []) + parsed
            if count == 0 and body:
                body = body[1:]  # the start record, checked above
            held = None
            if not last and body:
                held = body.pop()
            elif last:
                body.pop()
            for line, record in body:
                check.record(line, record)
            count += len(parsed)
            if last:
                check.finish(*final, count)
            rows, check.rows = check.rows, []
            for closed in check.assignments:
                closed.first_lines = {}  # counted; only the open assignment's are still needed
            yield _chunk(file_name, check, rows, index, last, final[1] if last else None)
            index += 1


def _chunk(file_name, check: _StructureCheck, rows, index, last, end) -> BankChunk:
    """A `BankChunk` of the rows completed; on the last, the controls as ``read_ocr_giro``."""
    assignments = check.assignments
    ocr = [a for a in assignments if a.record.service_code == netsgiro.ServiceCode.OCR_GIRO]
    kind, control_count, control_amount = PAYMENTS, None, None
    if last:
        if not ocr and assignments:
            agreements_only = all(
                a.record.assignment_type == netsgiro.AssignmentType.AVTALEGIRO_AGREEMENTS
                for a in assignments
            )
            kind = AGREEMENTS if agreements_only else PAYMENT_REQUESTS
            chosen = assignments
        else:
            chosen = ocr
        control_count = sum(a.end.num_transactions for a in chosen)
        control_amount = sum(a.end.total_amount or 0 for a in chosen)
    return BankChunk(
        file_name=file_name,
        format=FORMAT,
        kind=kind,
        payments=payments_frame(rows),
        index=index,
        last=last,
        control_count=control_count,
        control_amount=control_amount,
        created=end.nets_date if end is not None else None,
    )
