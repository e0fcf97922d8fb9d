"""What a bank payment file reader returns, whatever the format: a `BankFile`, or a `BankFileError`.

OCR giro (Norway) and BgMax (Sweden) both produce the same `BankFile`, so the bank import books
payments without knowing which format they came in.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from inkasso.formats.errors import FileError

PAYMENTS = "payments"
"""The kind of a file whose transactions are money received; every other kind is never booked."""

PAYMENT_COLUMNS: tuple[str, ...] = (
    "payment_ref",  # unique id of the transaction within the bank file
    "payer_account",  # debit account / payer bankgiro; '' when unknown
    "reference",  # KID / OCR reference; '' when none
    "amount",  # int64 øre/öre; negative for reversals
    "payment_date",  # datetime.date
    "payee_account",  # the creditor's account the money went to
    "payee_giro",  # BgMax: the payee bankgiro of the deposit's opening (05); '' when none
    "currency",  # 'NOK', 'SEK'
    "payer_name",  # '' when none
    "line",  # 1-based line of the transaction's first record
)
_INT_COLUMNS = ("amount", "line")


class BankFileError(FileError):
    """A bank file is broken; names the file, the 1-based line and the field.

    ``str(err)`` reads like ``OCR.txt line 7 field amount: not a number: '00000000001x2000'``.
    ``line`` is ``None`` when the problem is the whole file (empty), ``field`` when it is a whole
    record (wrong length, out of place).
    """


def payments_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Build the payments frame (columns `PAYMENT_COLUMNS`, amount and line int64) from row dicts.

    A DataFrame with (at least) those columns is taken column-wise, without a row-by-row copy.
    ``payee_giro`` may be left out (a format without one): it is '' then.
    """
    if isinstance(rows, pd.DataFrame):
        if "payee_giro" not in rows.columns:
            rows = rows.assign(payee_giro="")
        frame = rows[list(PAYMENT_COLUMNS)].reset_index(drop=True)
    else:
        frame = pd.DataFrame(list(rows), columns=list(PAYMENT_COLUMNS))
    frame["payee_giro"] = frame["payee_giro"].fillna("")
    for column in PAYMENT_COLUMNS:
        if column in _INT_COLUMNS:
            frame[column] = frame[column].astype("int64")
        elif column != "payment_date":
            frame[column] = frame[column].astype("str")
    return frame


@dataclass(frozen=True)
class BankFile:
    """One bank file read and checked against its own control records.

    ``control_count`` and ``control_amount`` (øre/öre) are what the file's end records state for
    the transactions of ``payments`` (for a file that holds no payments: for its whole body).
    """

    file_name: str
    format: str  # "ocr_giro" or "bgmax"
    kind: str  # PAYMENTS, or e.g. "avtalegiro_agreements", "avtalegiro_payment_requests"
    payments: pd.DataFrame
    control_count: int
    control_amount: int
    created: datetime.date | None = None  # the bank's production date of the file, when stated

    def __post_init__(self) -> None:
        if tuple(self.payments.columns) != PAYMENT_COLUMNS:
            raise ValueError(
                f"payments columns must be {PAYMENT_COLUMNS}, got {tuple(self.payments.columns)}"
            )
        if self.payments["amount"].dtype != "int64":
            raise ValueError(
                f"payments amount must be int64 øre, got {self.payments['amount'].dtype}"
            )
        if self.kind != PAYMENTS and len(self.payments):
            raise ValueError(f"a {self.kind} file cannot carry payments")

    @property
    def is_payments(self) -> bool:
        """True when the file's transactions are money received (to be booked)."""
        return self.kind == PAYMENTS


@dataclass(frozen=True)
class BankChunk:
    """A chunk of a bank file read in chunks (``iter_bank_file``): some of its payments.

    ``payments`` has the columns `PAYMENT_COLUMNS`; the chunks' frames together are the
    `BankFile`'s. ``control_count`` and ``control_amount`` are set on the last chunk only
    (``last``), which is yielded only once the whole file has passed its checks.
    """

    file_name: str
    format: str
    kind: str
    payments: pd.DataFrame
    index: int
    last: bool
    control_count: int | None = None
    control_amount: int | None = None
    created: datetime.date | None = None


def whole_file(chunks: Iterable[BankChunk]) -> BankFile:
    """The `BankFile` of a file read in chunks: their payments together, the last one's
    controls (reading every chunk makes every check of the file)."""
    chunks = list(chunks)
    last = chunks[-1]
    payments = pd.concat([c.payments for c in chunks], ignore_index=True)
    return BankFile(
        file_name=last.file_name,
        format=last.format,
        kind=last.kind,
        payments=payments_frame(payments),
        control_count=int(last.control_count),
        control_amount=int(last.control_amount),
        created=last.created,
    )
