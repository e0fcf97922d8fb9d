"""The new-case file: its records (the format engine's columns), the check of what a file cannot
carry, and putting a finished file in place without ever overwriting one."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil

import pandas as pd

from inkasso.delivery import outbox
from inkasso.formats.writer import unwritable_values

NEW_CASES = "new_cases"
DETAIL_COLUMNS = [
    "case_id",
    "invoice_no",
    "debtor_no",
    "debtor_name",
    "debtor_type",
    "national_id",
    "street",
    "postcode",
    "city",
    "country",
    "invoice_date",
    "due_date",
    "original_amount",
    "remaining_amount",
    "currency",
    "kid",
    "reminder_count",
]


class HashingFile:
    """A binary file that keeps the SHA-256 of what is written to it."""

    def __init__(self, raw):
        self.raw = raw
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        """Write and hash ``data``."""
        self.sha.update(data)
        return self.raw.write(data)

    def close(self) -> None:
        """Close the file (again is fine)."""
        self.raw.close()

    def hexdigest(self) -> str:
        """The checksum of everything written."""
        return self.sha.hexdigest()


def unwritable(layout, cases: pd.DataFrame) -> pd.Series:
    """Why each of ``cases`` cannot be written in ``layout`` (indexed like them; only the bad)."""
    return unwritable_values(layout, detail_values(cases))


def write_new_file(path, data) -> None:
    """Put a finished file at ``path``, which must not exist (a file at rest is never overwritten).

    ``data`` is the file's bytes, or the local temporary file it was written to: that is linked
    (local outbox) or copied (object storage) into place.
    """
    if isinstance(data, bytes | bytearray):
        outbox.write_new_file(path, data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if getattr(path, "protocol", "file") in ("file", "local"):
        local = path.path if hasattr(path, "protocol") else str(path)
        try:  # a hard link fails if the name exists: no check-then-write race
            os.link(data, local)
            return
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
    if path.exists():
        raise FileExistsError(f"{path} already exists; an outgoing file is never overwritten")
    with open(data, "rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def build_detail_frame(cases: pd.DataFrame) -> pd.DataFrame:
    """The new-case records in the format engine's column names, one row per case."""
    frame = detail_values(cases)
    return frame.sort_values("case_id").reset_index(drop=True)[DETAIL_COLUMNS]


def detail_values(cases: pd.DataFrame) -> pd.DataFrame:
    """The cases' values under the format engine's column names, indexed like ``cases``.

    Before the cases are opened there is no ``case_id`` yet: it is 0 then (the writability check
    looks at text fields only).
    """
    case_id = cases["case_id"] if "case_id" in cases.columns else pd.Series(0, index=cases.index)
    return pd.DataFrame(
        {
            "case_id": case_id.astype("int64"),
            "invoice_no": cases["invoice_no"],
            "debtor_no": cases["customer_no"],
            "debtor_name": cases["debtor_name"],
            "debtor_type": cases["is_organisation"].map({True: "O", False: "P"}),
            "national_id": cases["national_id"],
            "street": cases["street"],
            "postcode": cases["postcode"],
            "city": cases["city"],
            "country": cases["country"],
            "invoice_date": cases["invoice_date"],
            "due_date": cases["due_date"],
            "original_amount": cases["original_amount"].astype("int64"),
            "remaining_amount": cases["remaining_amount"].astype("int64"),
            "currency": cases["currency"],
            "kid": cases["kid"],
            "reminder_count": cases["reminder_count"].astype("int64"),
        },
        index=cases.index,
    )
