"""Which bank file format a file is in, from its first bytes, and the reader for it."""

from __future__ import annotations

from inkasso.bank.model import BankFile, BankFileError

OCR_GIRO = "ocr_giro"
BGMAX = "bgmax"
_MAGIC = {OCR_GIRO: b"NY000010", BGMAX: b"01BGMAX"}


def detect_format(data: bytes) -> str | None:
    """``'ocr_giro'`` (starts with NY000010), ``'bgmax'`` (starts with 01BGMAX), else None."""
    head = data.lstrip(b"\xef\xbb\xbf\r\n ")[:16]
    for name, magic in _MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def read_bank_file(data: bytes, file_name: str) -> BankFile:
    """Read an OCR giro or BgMax file into a `BankFile`; `BankFileError` if unknown or broken."""
    found = detect_format(data)
    if found == OCR_GIRO:
        from inkasso.bank.ocr_giro import read_ocr_giro

        return read_ocr_giro(data, file_name)
    if found == BGMAX:
        from inkasso.bank.bgmax import read_bgmax

        return read_bgmax(data, file_name)
    start = data[:8].decode("iso-8859-1", "replace")
    raise BankFileError(
        file_name,
        1 if data else None,
        "record_type" if data else None,
        f"neither OCR giro (starts NY000010) nor BgMax (starts 01BGMAX): starts {start!r}"
        if data
        else "the file is empty",
    )
