"""The operator command line: ``python -m inkasso read --format NAME FILE``.

Prints every record of a file as one JSON object per line: ``record`` (the record type),
``line`` (1-based) and the fields, amounts as integer øre/öre, dates ISO. A broken file exits
with status 1 and one line on stderr naming file, line and field.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

OCR_GIRO = "ocr_giro"
EXIT_BROKEN = 1
EXIT_USAGE = 2
EXIT_PIPE_CLOSED = 141  # what a shell reports for a command ended by SIGPIPE


def format_names() -> list[str]:
    """Every format ``read`` knows: each layout (``bgmax``, ``<agency>.<kind>``) and ``ocr_giro``."""
    from inkasso.formats import list_layouts

    return sorted([*list_layouts(), OCR_GIRO])


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar
        return _json_value(value.item())
    if value is not None and value != value:  # NaN / NaT: a blank field
        return None
    return value


def read_records(format_name: str, data: bytes, file_name: str) -> Iterator[dict[str, Any]]:
    """The records of a file as plain dicts (``record``, ``line``, fields); raises on a broken file.

    Layouts raise ``FormatError``; OCR giro raises ``BankFileError`` (both name line and field).
    """
    if format_name == OCR_GIRO:
        from inkasso.bank.ocr_giro import read_ocr_giro

        bank_file = read_ocr_giro(data, file_name)
        for row in bank_file.payments.to_dict("records"):
            line = int(row.pop("line"))
            yield {"record": "payment", "line": line, **row}
        yield {  # what the end record states (checked against the body by the reader)
            "record": "transmission_end",
            "line": len(data.rstrip(b"\r\n").splitlines()),
            "kind": bank_file.kind,
            "transaction_count": bank_file.control_count,
            "total_amount": bank_file.control_amount,
        }
        return
    from inkasso.formats import load_layout

    for rec in load_layout(format_name).read(data, file_name).records:
        yield {"record": rec.type, "line": rec.line, **rec.values}


def _parser(names: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inkasso", description="inkasso-airflow operator commands."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    read = sub.add_parser(
        "read",
        help="print a file's records as JSON lines",
        description="Read FILE with the format NAME and print one JSON object per record "
        "(record type, line, fields; amounts in øre/öre, dates ISO). A broken file exits "
        "with status 1 and a message naming file, line and field.",
        epilog="formats: " + ", ".join(names),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    read.add_argument(
        "--format",
        "-f",
        required=True,
        choices=names,
        metavar="NAME",
        help="the file's format: one of the formats listed below",
    )
    read.add_argument("file", metavar="FILE", type=Path, help="the file to read")
    check = sub.add_parser(
        "check",
        help="prove the books: every case's money and every payout",
        description="Check, for every case, sent = collected + direct payments + credited + "
        "recalled + written off + still open, that the ERP's remaining amount and status agree, "
        "that every payout is reconciled or listed and that interim accounts are explained. "
        "Exits 1 on a violation.",
    )
    check.add_argument(
        "--date", required=True, type=dt.date.fromisoformat, help="business day (YYYY-MM-DD)"
    )
    check.add_argument(
        "--url", help="SQLAlchemy URL of the ERP database (default: the erp_db connection)"
    )
    check.add_argument("--json", action="store_true", help="print the outcome as JSON")
    migrate = sub.add_parser(
        "migrate",
        help="create or upgrade the pipeline's own tables (ink_*) in the ERP database",
        description="Run the Alembic migrations of the pipeline's tables on the ERP database "
        "(version table ink_alembic_version). Safe to run again.",
    )
    migrate.add_argument(
        "--url", help="SQLAlchemy URL of the ERP database (default: the erp_db connection)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 fine, 1 broken file or books, 2 usage)."""
    args = _parser(format_names()).parse_args(argv)
    if args.command == "read":
        return _read(args.format, args.file)
    try:
        if args.command == "check":
            return _check(args.date, args.url, as_json=args.json)
        if args.command == "migrate":
            return _migrate(args.url)
    except NoDatabase as exc:
        print(f"inkasso {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE  # pragma: no cover - argparse requires a command


def _read(format_name: str, path: Path) -> int:
    from inkasso.bank.model import BankFileError
    from inkasso.formats import FormatError

    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"inkasso read: {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    out = sys.stdout
    try:
        for record in read_records(format_name, data, str(path)):
            out.write(
                json.dumps({k: _json_value(v) for k, v in record.items()}, ensure_ascii=False)
            )
            out.write("\n")
        out.flush()
    except BrokenPipeError:
        _quiet_stdout(out)
        return EXIT_PIPE_CLOSED
    except (FormatError, BankFileError) as exc:
        _flush(out)
        print(f"inkasso read: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    except Exception as exc:  # a reader bug: still one line for the operator, not a traceback
        _flush(out)
        print(
            f"inkasso read: {path}: cannot be read ({type(exc).__name__}: {exc})", file=sys.stderr
        )
        return EXIT_BROKEN
    return 0


def _flush(out) -> None:
    """Flush the records printed so far (before a message on stderr), whoever still reads them."""
    try:
        out.flush()
    except BrokenPipeError:
        _quiet_stdout(out)


def _quiet_stdout(out) -> None:
    """The reader of the output left (``inkasso read ... | head``): not the file's fault, so no
    message of its own; stdout goes to devnull so that the interpreter's last flush is quiet."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())


class NoDatabase(Exception):
    """No ``--url`` and no usable ``erp_db`` connection: one line for the operator."""


def _engine(url: str | None):
    from inkasso.db.engine import engine_for_url, erp_engine

    if url:
        return engine_for_url(url)
    try:
        return erp_engine()
    except Exception as exc:  # the connection is missing or unreadable outside a task
        raise NoDatabase(f"no --url given, and {exc}") from None


def _migrate(url: str | None) -> int:
    from inkasso.db.migrate import current_revision, upgrade

    engine = _engine(url)
    upgrade(engine)
    print(f"inkasso migrate: pipeline tables at revision {current_revision(engine)}")
    return 0


def _check(day: dt.date, url: str | None, *, as_json: bool) -> int:
    from inkasso.money.check import check_books

    report = check_books(_engine(url), day)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        print(format_books(report))
    return 0 if report.ok else EXIT_BROKEN


def format_books(report) -> str:
    """The check's outcome as text: totals per currency, violations, items for a person."""
    from inkasso.money.amounts import format_money

    lines = [f"books through {report.through}: {report.cases} cases"]
    for currency, t in sorted(report.totals.items()):
        lines.append(
            f"  {currency}: sent {format_money(t['sent'])} = collected {format_money(t['collected'])}"
            f" + direct {format_money(t['direct'])} + credited {format_money(t['credited'])}"
            f" + recalled {format_money(t['recalled'])} + written off {format_money(t['written_off'])}"
            f" + sent again {format_money(t['sent_again'])} + open {format_money(t['open'])}"
            f" (refunds due {format_money(t['refund_due'])}, in transit {format_money(t['in_transit'])})"
        )
    lines.append(f"violations: {len(report.violations)}")
    lines += [f"  ! {v}" for v in report.violations]
    lines.append(f"for a person: {len(report.listed)}")
    lines += [f"  - {item}" for item in report.listed]
    return "\n".join(lines)
