"""Bankgirot BgMax files (Sweden): read and written with the format engine's ``bgmax`` layout.

The layout (``include/formats/layouts/bgmax.yaml``) parses the records and checks the end record's
counts. Here the deposits are checked too: each deposit record (15) must close a section opened by
a deposit opening (05), be in its currency, and state the number of its payment and deduction
records (20, 21) and their net amount. A file that disagrees anywhere is rejected whole (`BankFileError`).

A file marked T (test) in its start record is of kind ``bgmax_test``: checked as any, its
payments never given out (it is not money received).

One payment record (20) is one row of the payments frame; a deduction (21) is a negative row.
Extra references (22, 23) belong to the payment before them: when a payment has no reference of
its own, its first extra reference is used for matching. A name record (26) gives the payer name.
Each payment carries its deposit's payee account (15) and the payee bankgiro of its opening (05,
``payee_giro``): the bank import checks that the money went to the client.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from typing import IO

import numpy as np
import pandas as pd

from inkasso.bank.model import (
    PAYMENTS,
    BankChunk,
    BankFile,
    BankFileError,
    payments_frame,
    whole_file,
)
from inkasso.formats import FormatError, load_layout
from inkasso.formats.codec import FieldProblem, from_text
from inkasso.formats.reader import DEFAULT_CHUNK_ROWS

FORMAT = "bgmax"
LAYOUT = "bgmax"
TEST = "bgmax_test"
"""The kind of a file marked T (test) in its start record: Bankgirot's test delivery, whose
payments are made up; read and checked in full, never booked."""
_MONEY = ("payment", "deduction")


def read_bgmax(data: bytes, file_name: str) -> BankFile:
    """Read a BgMax file into a `BankFile`; raise `BankFileError` (line, field) if it is broken.

    The whole file as one chunk of ``iter_bgmax``: every check is made before anything is
    returned.
    """
    return whole_file(iter_bgmax(data, file_name, chunk_rows=None))


def iter_bgmax(
    source: bytes | str | os.PathLike | IO[bytes],
    file_name: str,
    chunk_rows: int | None = DEFAULT_CHUNK_ROWS,
) -> Iterator[BankChunk]:
    """Read a BgMax file in chunks of at most ``chunk_rows`` lines; yield a `BankChunk` each.

    ``source`` is the file's bytes, a path or a seekable binary stream. The file is read twice:
    a first pass over the raw bytes notes the deposits (05, 15: a payment's date and account
    stand in the deposit record after it) and whether the BGC serial numbers are unique (8 bytes
    per payment); the second parses and checks chunk by chunk. Memory is bounded by a chunk.
    The last chunk carries the end record's controls; the whole-file checks (end record counts,
    every deposit's count and net amount) raise `BankFileError` before it is yielded, so nothing
    read is valid until the iterator is exhausted without an error. ``chunk_rows=None`` reads
    the file as one chunk.
    """
    try:
        layout = load_layout(LAYOUT)
        if chunk_rows is None:
            # one chunk: what the first pass would note is in the parsed file itself
            (whole,) = layout.iter_chunks(source, file_name, _WHOLE)
            yield _Walk(file_name, _Survey.of_parsed(layout, whole)).chunk(whole)
            return
        start = source.tell() if _is_stream(source) else None
        survey = _Survey.of_bytes(layout, source)
        if start is not None:
            source.seek(start)  # the second pass reads the stream again from where it stood
        walk = _Walk(file_name, survey)
        for chunk in layout.iter_chunks(source, file_name, chunk_rows):
            yield walk.chunk(chunk)
    except FormatError as exc:
        raise BankFileError(exc.file_name, exc.line, exc.field, exc.reason) from exc


_WHOLE = 1 << 62  # chunk_rows for "the whole file as one chunk"


def _is_stream(source) -> bool:
    return hasattr(source, "read") and hasattr(source, "seek")


class _Survey:
    """The first pass over a BgMax file's bytes: its deposits and whether serials are unique.

    Only the record codes of every line are looked at, the BGC serial of every payment, and the
    few deposit opening (05) and deposit (15) records, parsed leniently: the second pass checks
    them in full.
    """

    def __init__(self, layout) -> None:
        self.layout = layout
        self.opening_lines: list[int] = []
        self.currencies: list[str] = []
        self.giros: list[str] = []  # each opening's payee bankgiro, leading zeros off
        self.deposit_lines: list[int] = []
        self.deposit_raw: list[str] = []
        self.blank_serial = False
        self.unique_serials = False
        self.deposits = pd.DataFrame(columns=["payee_account", "payment_date"])

    @classmethod
    def of_bytes(cls, layout, source) -> _Survey:
        """The first pass over the source's raw bytes."""
        survey = cls(layout)
        hashes = [survey._block(block, first) for block, first, _ in _survey_blocks(source)]
        every = np.concatenate(hashes) if hashes else np.array([], dtype=np.uint64)
        survey.unique_serials = not survey.blank_serial and len(np.unique(every)) == len(every)
        survey.deposits = survey._deposits()
        return survey

    @classmethod
    def of_parsed(cls, layout, parsed) -> _Survey:
        """The same notes taken from a whole file already parsed (and checked)."""
        survey = cls(layout)
        survey.opening_lines = parsed.lines_of("deposit_opening").tolist()
        survey.currencies = parsed.frame("deposit_opening")["currency"].astype(str).tolist()
        giros = parsed.frame("deposit_opening")["payee_bankgiro"].fillna("").astype(str)
        survey.giros = [g.strip().lstrip("0") for g in giros]
        survey.deposit_lines = parsed.lines_of("deposit").tolist()
        survey.deposits = parsed.frame("deposit")[["payee_account", "payment_date"]]
        serials = pd.concat([parsed.frame(t)["bgc_serial"] for t in _MONEY if parsed.count(t)])
        serials = serials.fillna("").astype(str)
        survey.unique_serials = bool((serials != "").all() and serials.is_unique)
        return survey

    def _block(self, block: bytes, first: int) -> np.ndarray:
        """Note one block's deposits and return the hashes of its payments' serials."""
        chars = np.frombuffer(block, dtype=np.uint8)
        breaks = np.flatnonzero(chars == 10)
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [len(chars)]))
        if ends[-1] == starts[-1]:
            starts, ends = starts[:-1], ends[:-1]
        padded = np.concatenate((chars, np.full(80, 32, dtype=np.uint8)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, 72)
        heads = windows[starts]
        code = heads[:, 0].astype(np.int32) * 256 + heads[:, 1]
        for wanted, lines, texts in (
            (b"05", self.opening_lines, None),
            (b"15", self.deposit_lines, self.deposit_raw),
        ):
            for i in np.flatnonzero(code == wanted[0] * 256 + wanted[1]).tolist():
                text = block[starts[i] : ends[i]].decode("iso-8859-1").rstrip("\r")
                lines.append(first + i)
                if texts is None:
                    self.currencies.append(text[22:25].strip())
                    self.giros.append(text[2:12].strip().lstrip("0"))
                else:
                    texts.append(text)
        money = np.flatnonzero((code == 0x3230) | (code == 0x3231))  # "20", "21"
        serial = heads[money, 57:69].copy()
        beyond = (starts[money, None] + 57 + np.arange(12)) >= ends[money, None]
        serial[beyond | (serial == 13)] = 32
        text = np.strings.strip(serial.astype("<u4").view("<U12")[:, 0])
        self.blank_serial |= bool((text == "").any())
        points = np.ascontiguousarray(text.astype("<U12")).view(np.uint32).reshape(-1, 12)
        hashed = np.zeros(len(money), dtype=np.uint64)
        for j in range(12):
            hashed = hashed * np.uint64(1_000_003) + points[:, j].astype(np.uint64)
        return hashed

    def _deposits(self) -> pd.DataFrame:
        """The deposits as far as they can be read (the second pass rejects a broken one)."""
        rec = self.layout.records["deposit"]
        fields = {f.name: f for f in rec.fields}
        rows = []
        for text in self.deposit_raw:
            row = {}
            for name in ("payee_account", "payment_date"):
                f = fields[name]
                try:
                    row[name] = from_text(f, np.array([text[f.start - 1 : f.start - 1 + f.width]]))[
                        0
                    ]
                except FieldProblem:
                    row[name] = None
            rows.append(row)
        return pd.DataFrame(rows, columns=["payee_account", "payment_date"])


def _survey_blocks(source):
    """The source's bytes in large blocks of whole lines (for the first pass)."""
    from inkasso.formats.reader import _line_blocks, _open

    with _open(source) as stream:
        yield from _line_blocks(stream, 200_000)


class _Walk:
    """The second pass: chunk by chunk, the deposit sections checked and the payments built.

    Carried from chunk to chunk: the last payment (its name and extra references may be in the
    next chunk), the open section's count, net amount and openings, and the deposits' sum.
    """

    def __init__(self, file_name: str, survey: _Survey) -> None:
        self.file_name, self.survey = file_name, survey
        self.pending = _money_records(None)
        self.previous_deposit = 0
        self.section_count = 0
        self.section_net = 0
        self.section_first = None  # first payment line of the open section
        self.openings = 0
        self.opening_first = None  # first opening line of the open section
        self.deposit_amount = 0
        self.index = 0
        self.opening_array: np.ndarray | None = None

    def fail(self, line, field_name, reason) -> BankFileError:
        return BankFileError(self.file_name, int(line), field_name, reason)

    def chunk(self, parsed) -> BankChunk:
        """Check one chunk's sections and build the payments it completes."""
        money = self.pending.then(_money_records(parsed))
        _attach(parsed, money)
        deposits = parsed.details("deposit", with_line=True)
        openings = parsed.details("deposit_opening", with_line=True)
        self.sections(money.part(len(self.pending)), openings, deposits, parsed.last)
        if len(deposits):
            self.deposit_amount += int(deposits["amount"].astype("int64").sum())
        keep = 0 if parsed.last or not len(money) else 1
        ready, self.pending = money.part(0, len(money) - keep), money.part(len(money) - keep)
        trailer = parsed.trailer
        test = parsed.header.get("test_flag") == "T"
        chunk = BankChunk(
            file_name=self.file_name,
            format=FORMAT,
            kind=TEST if test else PAYMENTS,
            payments=payments_frame([]) if test else self.payments(ready),
            index=self.index,
            last=parsed.last,
            created=_written_date(parsed.header.get("written_at") or ""),
            control_count=(
                int(trailer["payment_count"] + trailer["deduction_count"]) if parsed.last else None
            ),
            control_amount=self.deposit_amount if parsed.last else None,
        )
        self.index += 1
        return chunk

    def sections(self, money, openings, deposits, last: bool) -> None:
        """Each deposit closes an opened section and states its count and net amount truly."""
        money_lines, signed = money["line"], money["signed"]
        opening_lines = openings["line"].to_numpy(dtype="int64")
        deposit_lines = deposits["line"].to_numpy(dtype="int64")
        if last:
            after = deposit_lines[-1] if len(deposit_lines) else self.previous_deposit
            loose = money_lines[money_lines > after]
            first_loose = self.section_first if not len(deposit_lines) else None
            if first_loose is None and len(loose):
                first_loose = loose[0]
            if first_loose is not None:
                raise self.fail(
                    first_loose, "record_type", "payment not closed by a deposit record (15)"
                )
        at = 0
        for deposit in deposits.itertuples(index=False):
            line = int(deposit.line)
            opened = self.openings + int(
                ((opening_lines > self.previous_deposit) & (opening_lines < line)).sum()
            )
            if opened != 1:
                reason = "no opening record (05) before it" if not opened else "two openings (05)"
                raise self.fail(line, "record_type", f"deposit record: {reason}")
            currency = "" if pd.isna(deposit.currency) else str(deposit.currency).strip()
            self.same_currency(line, currency)
            upto = int(np.searchsorted(money_lines, line))
            count = self.section_count + upto - at
            net = self.section_net + int(signed[at:upto].sum())
            if int(deposit.payment_count) != count:
                raise self.fail(
                    line,
                    "payment_count",
                    f"deposit states {int(deposit.payment_count)} payments, its section holds "
                    f"{count}",
                )
            if int(deposit.amount) != net:
                raise self.fail(
                    line,
                    "amount",
                    f"deposit states {int(deposit.amount)} öre, its payments sum to {net}",
                )
            self.previous_deposit, at = line, upto
            self.section_count = self.section_net = self.openings = 0
            self.section_first = self.opening_first = None
        rest = money_lines[at:]
        if len(rest) and self.section_first is None:
            self.section_first = int(rest[0])
        self.section_count += len(rest)
        self.section_net += int(signed[at:].sum())
        stray = opening_lines[opening_lines > self.previous_deposit]
        if len(stray) and self.opening_first is None:
            self.opening_first = int(stray[0])
        self.openings += len(stray)
        if last and self.openings:
            raise self.fail(
                self.opening_first, "record_type", "opening record (05) without a deposit (15)"
            )

    def same_currency(self, line: int, currency: str) -> None:
        """A deposit's currency is its opening's: the payments' currency decides which invoices
        they may lower, so a contradiction leaves it unknown."""
        survey = self.survey
        if self.opening_array is None:  # the survey's openings, once (a file may hold many)
            self.opening_array = np.array(survey.opening_lines, dtype="int64")
        at = int(np.searchsorted(self.opening_array, line)) - 1
        opened = survey.currencies[at].strip() if at >= 0 else ""
        if currency and opened and currency != opened:
            raise self.fail(
                line,
                "currency",
                f"deposit in {currency}, its opening (05) on line {survey.opening_lines[at]} "
                f"in {opened}",
            )

    def payments(self, money: _Money) -> pd.DataFrame:
        """The payments frame of completed money records, dated and placed by their deposit.

        Built on plain arrays: pandas' string methods go through Python one value at a time
        with more overhead than a list comprehension.
        """
        if not len(money):
            return payments_frame([])
        survey = self.survey
        lines = money["line"]
        deposits = survey.deposits
        deposit_at = np.searchsorted(np.array(survey.deposit_lines, dtype="int64"), lines)
        inside = deposit_at < len(deposits)
        deposit_at = np.minimum(deposit_at, max(len(deposits) - 1, 0))
        opening_at = np.searchsorted(np.array(survey.opening_lines, dtype="int64"), lines) - 1
        currencies = np.array([*survey.currencies, ""], dtype=object)
        giros = np.array([*survey.giros, ""], dtype=object)
        if len(deposits):
            dates = np.where(inside, deposits["payment_date"].to_numpy()[deposit_at], None)
            accounts = deposits["payee_account"].fillna("").to_numpy(dtype=object)[deposit_at]
            accounts = np.where(inside, accounts, "")
        else:
            dates, accounts = np.full(len(money), None), np.full(len(money), "", dtype=object)
        reference = _texts(money["reference"])
        for extra in ("extra_reference", "extra_reference_negative"):
            blank = reference == ""
            if blank.any():
                reference = np.where(blank, _texts(money[extra]), reference)
        refs = _texts(money["bgc_serial"]) if survey.unique_serials else _labels("L", lines)
        payer = _texts(money["payer_bankgiro"])  # read without its zeros (layout: pad "0")
        frame = pd.DataFrame(
            {
                "payment_ref": refs,
                "payer_account": payer,
                "reference": reference,
                "amount": money["signed"],
                "payment_date": dates,
                "payee_account": accounts,
                "payee_giro": giros[opening_at],
                "currency": currencies[opening_at],
                "payer_name": _texts(money["name"]),
                "line": lines,
            }
        )
        return payments_frame(frame)


def _texts(values: np.ndarray) -> np.ndarray:
    """A text column (an object array) as str alone, blanks as ''."""
    # the engine's text columns are never blank as NaN: one pass in C tells so
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        values = np.where(pd.isna(values), "", values)
    return values


def _labels(prefix: str, numbers: np.ndarray) -> np.ndarray:
    """``prefix`` and each non-negative number in decimal, as an object array of str.

    Laid out digit by digit in a matrix of code points (a value's unused places are NULs, which
    a numpy unicode array drops): numpy's int-to-str cast goes through Python one at a time.
    """
    n = len(numbers)
    if not n:
        return np.array([], dtype=object)
    width = len(str(int(numbers.max())))
    digits = np.ones(n, dtype=np.int64)
    for power in range(1, width):
        digits += numbers >= 10**power
    points = np.zeros((n, width + 1), dtype=np.uint32)
    points[:, 0] = ord(prefix)
    for j in range(width):
        place = digits - 1 - j  # the power of ten at column j of each value
        digit = numbers // 10 ** np.maximum(place, 0) % 10 + 48
        points[:, j + 1] = np.where(place >= 0, digit, 0)
    return points.view(f"<U{width + 1}")[:, 0].astype(object)


def _written_date(value: str) -> datetime.date | None:
    """The date part of the start record's timestamp (YYYYMMDD...), None when unreadable."""
    try:
        return datetime.datetime.strptime(value[:8], "%Y%m%d").date()
    except ValueError:
        return None


_MONEY_COLUMNS = ["payer_bankgiro", "reference", "amount", "bgc_serial", "line", "record_type"]
_ATTACHED = ("extra_reference", "extra_reference_negative", "name")


class _Money:
    """Payment (20) and deduction (21) records in file order, as numpy arrays by column.

    Cut, joined and handed on several times a chunk: a DataFrame's copies and text checks at
    each step cost more than the work done on the columns.
    """

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns["line"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        self.columns[name] = values

    def part(self, start: int, stop: int | None = None) -> _Money:
        """The records ``start:stop``."""
        return _Money({c: v[start:stop] for c, v in self.columns.items()})

    def then(self, other: _Money) -> _Money:
        """These records followed by ``other``'s."""
        return _Money({c: np.concatenate((v, other[c])) for c, v in self.columns.items()})


def _money_records(parsed) -> _Money:
    """Payments (20) and deductions (21) in file order: line, signed amount, record type, and
    (empty) columns for what later records attach to them."""
    parts: dict[str, list[np.ndarray]] = {c: [] for c in _MONEY_COLUMNS}
    for record_type in _MONEY if parsed is not None else ():
        if not parsed.count(record_type):
            continue
        frame = parsed.frame(record_type)
        for column in ("payer_bankgiro", "reference", "bgc_serial"):
            parts[column].append(frame[column].to_numpy(dtype=object))
        parts["amount"].append(frame["amount"].to_numpy(dtype="int64"))
        parts["line"].append(parsed.lines_of(record_type).astype("int64"))
        parts["record_type"].append(_filled(len(frame), record_type))
    if parts["line"]:
        columns = {c: np.concatenate(v) for c, v in parts.items()}
    else:
        columns = {c: np.array([], dtype="int64" if c in ("amount", "line") else object)
                   for c in _MONEY_COLUMNS}  # fmt: skip
    if len(parts["line"]) > 1:  # both types: back into file order
        order = np.argsort(columns["line"], kind="stable")
        columns = {c: v[order] for c, v in columns.items()}
    deduction = columns["record_type"] == "deduction"
    columns["signed"] = np.where(deduction, -columns["amount"], columns["amount"])
    for column in _ATTACHED:
        columns[column] = _filled(len(columns["line"]), "")
    return _Money(columns)


def _filled(n: int, text: str) -> np.ndarray:
    """An object array of ``n`` times the one str ``text`` (``np.full`` makes a str per row)."""
    values = np.empty(n, dtype=object)
    values.fill(text)
    return values


def _attach(parsed, money: _Money) -> None:
    """Fill each payment's first extra references (22, 23) and name (26) from this chunk.

    A record belongs to the payment before it; a value already attached (from the chunk
    before) is kept, as the first one in the file.
    """
    if not len(money):
        return
    money_lines = money["line"]
    for record_type, field, column in (
        ("extra_reference", "reference", "extra_reference"),
        ("extra_reference_negative", "reference", "extra_reference_negative"),
        ("name", "name", "name"),
    ):
        part = parsed.details(record_type, with_line=True)
        if not len(part):
            continue
        owner_at = np.searchsorted(money_lines, part["line"].to_numpy(dtype="int64")) - 1
        part = part.assign(owner=owner_at)
        part = part[(part["owner"] >= 0) & (part[field].fillna("") != "")]
        first = part.groupby("owner")[field].first()
        current = money[column].copy()
        at = first.index.to_numpy()
        empty = current[at] == ""
        current[at[empty]] = first.to_numpy(dtype=object)[empty]
        money[column] = current


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
        records += _deposit_records(payee_bankgiro, serial, key, group)
    return layout.write_records(records, file_name="BgMax (writing)")


def _deposit_records(payee_bankgiro: str, serial: int, key, group: pd.DataFrame) -> list:
    """One deposit's records: its opening, each payment (or deduction) with its payer's name,
    and the deposit record with its totals."""
    payee_account, payment_date, currency = key
    records: list[tuple[str, dict]] = [
        (
            "deposit_opening",
            {
                "payee_bankgiro": f"{payee_bankgiro:0>10}",
                "payee_plusgiro": "",
                "currency": currency,
            },
        )
    ]
    for row in group.itertuples(index=False):
        records += _payment_records(row)
    deposit = {
        "payee_account": str(payee_account),
        "payment_date": payment_date,
        "deposit_serial": f"{serial:05d}",
        "amount": int(group["amount"].sum()),
        "currency": currency,
        "payment_count": len(group),
        "deposit_type": "K",
    }
    return [*records, ("deposit", deposit)]


def _payment_records(row) -> list:
    """A payment (21: deduction when negative) and, when the payer is named, its name record."""
    reference = str(row.reference)
    code = "0" if not reference else "2" if reference.isdigit() else "4"
    values = {
        "payer_bankgiro": str(row.payer_account),  # zero-filled by the layout (pad "0")
        "reference": reference.rjust(25) if reference.isdigit() else reference,
        "amount": abs(int(row.amount)),
        "reference_code": code,
        "channel": "1",
        "bgc_serial": str(row.payment_ref),
        "image_flag": "0",
    }
    if int(row.amount) < 0:
        records = [("deduction", values | {"deduction_code": "0"})]
    else:
        records = [("payment", values)]
    if row.payer_name:
        records.append(("name", {"name": str(row.payer_name), "extra_name": ""}))
    return records
