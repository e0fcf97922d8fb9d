"""Bankgirot BgMax files (Sweden): read and written with the format engine's ``bgmax`` layout.

The layout (``include/formats/layouts/bgmax.yaml``) parses the records and checks the end record's
counts. Here the deposits are checked too: each deposit record (15) must close a section opened by
a deposit opening (05) and state the number of its payment and deduction records (20, 21) and
their net amount. A file that disagrees anywhere is rejected whole (`BankFileError`).

One payment record (20) is one row of the payments frame; a deduction (21) is a negative row.
Extra references (22, 23) belong to the payment before them: when a payment has no reference of
its own, its first extra reference is used for matching. A name record (26) gives the payer name.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

from inkasso.bank.model import PAYMENTS, BankFile, BankFileError, payments_frame
from inkasso.formats import FormatError, load_layout

FORMAT = "bgmax"
LAYOUT = "bgmax"
_MONEY = ("payment", "deduction")


def read_bgmax(data: bytes, file_name: str) -> BankFile:
    """Read a BgMax file into a `BankFile`; raise `BankFileError` (line, field) if it is broken."""
    try:
        parsed = load_layout(LAYOUT).read(data, file_name)
    except FormatError as exc:
        raise BankFileError(exc.file_name, exc.line, exc.field, exc.reason) from exc
    header = parsed.header
    if not header:
        raise BankFileError(file_name, 1, "record_type", "a BgMax file starts with a record 01")
    money = _money_records(parsed)
    openings = parsed.details("deposit_opening", with_line=True)
    deposits = parsed.details("deposit", with_line=True)
    _check_sections(file_name, money, openings, deposits)
    frame = _payments(parsed, money, openings, deposits)
    return BankFile(
        file_name=file_name,
        format=FORMAT,
        kind=PAYMENTS,
        payments=frame,
        control_count=int(parsed.trailer["payment_count"] + parsed.trailer["deduction_count"]),
        control_amount=int(deposits["amount"].astype("int64").sum()) if len(deposits) else 0,
        created=_written_date(header.get("written_at") or ""),
    )


def _written_date(value: str) -> datetime.date | None:
    """The date part of the start record's timestamp (YYYYMMDD...), None when unreadable."""
    try:
        return datetime.datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _money_records(parsed) -> pd.DataFrame:
    """Payments (20) and deductions (21) in file order, with line, signed amount and record type."""
    parts = []
    for record_type in _MONEY:
        part = parsed.details(record_type, with_line=True)
        if len(part):
            part = part.assign(record_type=record_type)
            parts.append(part)
    columns = ["payer_bankgiro", "reference", "amount", "bgc_serial", "line", "record_type"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("amount", "line") else "object")
                             for c in columns})  # fmt: skip
    money = pd.concat([p[columns] for p in parts], ignore_index=True)
    money["amount"] = money["amount"].astype("int64")
    money["line"] = money["line"].astype("int64")
    money["signed"] = np.where(
        money["record_type"] == "deduction", -money["amount"], money["amount"]
    )
    return money.sort_values("line", ignore_index=True)


def _check_sections(
    file_name: str, money: pd.DataFrame, openings: pd.DataFrame, deposits: pd.DataFrame
) -> None:
    """Each deposit closes an opened section and states its count and net amount truly."""
    deposit_lines = deposits["line"].to_numpy(dtype="int64")
    opening_lines = openings["line"].to_numpy(dtype="int64")
    money_lines = money["line"].to_numpy(dtype="int64")
    if len(money_lines):
        owner = np.searchsorted(deposit_lines, money_lines)
        loose = money_lines[owner >= len(deposit_lines)]
        if len(loose):
            raise BankFileError(
                file_name,
                int(loose[0]),
                "record_type",
                "payment not closed by a deposit record (15)",
            )
    previous_deposit = 0
    for index, deposit in enumerate(deposits.itertuples(index=False)):
        line = int(deposit.line)
        opened = opening_lines[(opening_lines > previous_deposit) & (opening_lines < line)]
        if len(opened) != 1:
            reason = "no opening record (05) before it" if not len(opened) else "two openings (05)"
            raise BankFileError(file_name, line, "record_type", f"deposit record: {reason}")
        section = money[(money["line"] > previous_deposit) & (money["line"] < line)]
        if int(deposit.payment_count) != len(section):
            raise BankFileError(
                file_name,
                line,
                "payment_count",
                f"deposit states {int(deposit.payment_count)} payments, its section holds "
                f"{len(section)}",
            )
        net = int(section["signed"].sum())
        if int(deposit.amount) != net:
            raise BankFileError(
                file_name,
                line,
                "amount",
                f"deposit states {int(deposit.amount)} öre, its payments sum to {net}",
            )
        previous_deposit = line
        del index
    stray = opening_lines[opening_lines > previous_deposit]
    if len(stray):
        raise BankFileError(
            file_name, int(stray[0]), "record_type", "opening record (05) without a deposit (15)"
        )


def _owner_lines(lines: np.ndarray, owner_lines: np.ndarray) -> np.ndarray:
    """For each line, the last owner line before it (-1 when none)."""
    index = np.searchsorted(owner_lines, lines) - 1
    return np.where(index >= 0, owner_lines[np.maximum(index, 0)], -1)


def _first_per_owner(parsed, record_type: str, field: str, money_lines: np.ndarray) -> dict:
    """Map payment line -> the first non-blank ``field`` of its ``record_type`` records."""
    part = parsed.details(record_type, with_line=True)
    if not len(part):
        return {}
    part = part.assign(owner=_owner_lines(part["line"].to_numpy(dtype="int64"), money_lines))
    part = part[(part["owner"] >= 0) & (part[field].fillna("") != "")]
    return part.groupby("owner")[field].first().to_dict()


def _payments(parsed, money: pd.DataFrame, openings: pd.DataFrame, deposits: pd.DataFrame):
    """The payments frame: one row per payment / deduction, dated and placed by its deposit."""
    if not len(money):
        return payments_frame([])
    money_lines = money["line"].to_numpy(dtype="int64")
    deposit_at = np.searchsorted(deposits["line"].to_numpy(dtype="int64"), money_lines)
    deposit = deposits.iloc[deposit_at].reset_index(drop=True)
    opening_at = np.searchsorted(openings["line"].to_numpy(dtype="int64"), money_lines) - 1
    opening = openings.iloc[opening_at].reset_index(drop=True)
    extra = pd.concat(
        [
            pd.Series(_first_per_owner(parsed, t, "reference", money_lines), dtype="object")
            for t in ("extra_reference", "extra_reference_negative")
        ]
    )
    extra = extra[~extra.index.duplicated()]
    names = pd.Series(_first_per_owner(parsed, "name", "name", money_lines), dtype="object")
    reference = money["reference"].fillna("").astype(str)
    reference = reference.where(reference != "", money["line"].map(extra).fillna(""))
    serial = money["bgc_serial"].fillna("").astype(str)
    unique_serials = (serial != "").all() and serial.is_unique
    frame = pd.DataFrame(
        {
            "payment_ref": serial if unique_serials else "L" + money["line"].astype(str),
            "payer_account": money["payer_bankgiro"].fillna("").astype(str).str.lstrip("0"),
            "reference": reference,
            "amount": money["signed"].astype("int64"),
            "payment_date": deposit["payment_date"].to_numpy(),
            "payee_account": deposit["payee_account"].fillna("").astype(str).to_numpy(),
            "currency": opening["currency"].astype(str).to_numpy(),
            "payer_name": money["line"].map(names).fillna("").astype(str),
            "line": money["line"].astype("int64"),
        }
    )
    return payments_frame(frame)


def write_bgmax(
    payments: pd.DataFrame,
    *,
    payee_bankgiro: str,
    written_at: datetime.datetime,
    test: bool = False,
) -> bytes:
    """The bytes of a BgMax file holding ``payments`` (columns as the payments frame).

    One deposit per (payee_account, payment_date, currency) in order of first appearance;
    negative amounts become deductions (21). ``payment_ref`` goes into the BGC serial number
    (at most 12 characters), so a file written here reads back to the same frame.
    """
    layout = load_layout(LAYOUT)
    records: list[tuple[str, dict]] = [
        (
            "start",
            {
                "layout_name": "BGMAX",
                "version": "01",
                "written_at": written_at.strftime("%Y%m%d%H%M%S%f"),
                "test_flag": "T" if test else "P",
            },
        )
    ]
    keys = ["payee_account", "payment_date", "currency"]
    for serial, (key, group) in enumerate(payments.groupby(keys, sort=False), start=1):
        payee_account, payment_date, currency = key
        records.append(
            (
                "deposit_opening",
                {
                    "payee_bankgiro": f"{payee_bankgiro:0>10}",
                    "payee_plusgiro": "",
                    "currency": currency,
                },
            )
        )
        for row in group.itertuples(index=False):
            reference = str(row.reference)
            code = "0" if not reference else "2" if reference.isdigit() else "4"
            values = {
                "payer_bankgiro": f"{row.payer_account:0>10}",
                "reference": reference.rjust(25) if reference.isdigit() else reference,
                "amount": abs(int(row.amount)),
                "reference_code": code,
                "channel": "1",
                "bgc_serial": str(row.payment_ref),
                "image_flag": "0",
            }
            if int(row.amount) < 0:
                records.append(("deduction", values | {"deduction_code": "0"}))
            else:
                records.append(("payment", values))
            if row.payer_name:
                records.append(("name", {"name": str(row.payer_name), "extra_name": ""}))
        records.append(
            (
                "deposit",
                {
                    "payee_account": str(payee_account),
                    "payment_date": payment_date,
                    "deposit_serial": f"{serial:05d}",
                    "amount": int(group["amount"].sum()),
                    "currency": currency,
                    "payment_count": len(group),
                    "deposit_type": "K",
                },
            )
        )
    return layout.write_records(records, file_name="BgMax (writing)")
