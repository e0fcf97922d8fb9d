"""The operator command line: ``python -m inkasso read --format NAME FILE``.

Prints every record of a file as one JSON object per line: ``record`` (the record type),
``line`` (1-based) and the fields, amounts as integer øre/öre, dates ISO. A broken file exits
with status 1 and one line on stderr naming file, line and field.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

OCR_GIRO = "ocr_giro"
EXIT_BROKEN = 1
EXIT_USAGE = 2


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 read, 1 broken file, 2 usage)."""
    args = _parser(format_names()).parse_args(argv)
    if args.command == "read":
        return _read(args.format, args.file)
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
    except (FormatError, BankFileError) as exc:
        out.flush()
        print(f"inkasso read: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    except Exception as exc:  # a reader bug: still one line for the operator, not a traceback
        out.flush()
        print(
            f"inkasso read: {path}: cannot be read ({type(exc).__name__}: {exc})", file=sys.stderr
        )
        return EXIT_BROKEN
    return 0
