"""The one error the format engine raises: a file (or a frame being written) that breaks its layout."""

from __future__ import annotations

from inkasso.masking import mask_text


class FileError(ValueError):
    """A file is broken; names the file, the 1-based line and the field (the reason masked).

    The shared base of ``FormatError`` (the format engine) and ``inkasso.bank.model.
    BankFileError`` (the bank readers): one way to say where a file breaks.
    """

    def __init__(
        self,
        file_name: str,
        line: int | None,
        field: str | None,
        reason: str,
        row: int | None = None,
    ) -> None:
        self.file_name = file_name
        # plain ints: the vectorised reader finds lines as numpy integers, which a database
        # driver would store as bytes
        self.line = None if line is None else int(line)
        self.field = field
        # a reason quotes the file's own text, which may hold a national id: masked here, so it
        # is masked alike in the file issue, the log, the CLI and the report
        self.reason = mask_text(reason)
        self.row = None if row is None else int(row)
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file_name
        if self.line is not None:
            where += f" line {self.line}"
        if self.row is not None:
            where += f" (row {self.row})"
        if self.field is not None:
            where += f" field {self.field}"
        return f"{where}: {self.reason}"

    def __reduce__(self):
        return (type(self), (self.file_name, self.line, self.field, self.reason, self.row))


class FormatError(FileError):
    """A file does not follow its layout; names the file, the 1-based line and the field.

    ``str(err)`` reads like ``LS123_20261122.txt line 3 field remaining_amount: not an amount:
    '12x4'``. ``line`` and ``field`` may be ``None`` when the problem is the whole file (an empty
    file) or a whole line (wrong length). When writing, ``file_name`` is the layout being written,
    ``line`` the line the value would have had and ``row`` the 0-based row of the input frame.
    """


class LayoutError(ValueError):
    """A layout or profile YAML file is itself wrong (overlapping fields, unknown type, ...)."""
