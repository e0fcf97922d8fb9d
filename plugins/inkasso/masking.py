"""National ids masked in free text, and in every log record of the ``inkasso`` loggers.

One function, ``mask_text``, for everything that may carry a national id a person or an agency
wrote (rejection reasons, file issues, error messages, task logs, mails, pages). A Norwegian
fødselsnummer (11 digits, also written ``DDMMYY NNNNN``) and a Swedish personnummer (``YYMMDD-NNNN``,
``YYMMDD+NNNN``, ``YYYYMMDDNNNN``, ``YYYYMMDD-NNNN``, ...) are masked as ``mask_id`` does: only the
first six characters (the birth date) stay. Number shapes that cannot be a national id (KIDs of
other lengths, amounts with separators) are left alone; masking a number that only looks like
an id is the safe mistake.
"""

from __future__ import annotations

import logging
import re

# A birth date of 6 digits (DDMMYY, YYMMDD) or 8 (YYYYMMDD, so 18/19/20 first), an optional
# separator (-, + or one space) and 4 or 5 digits, not inside a longer number. No id starts with
# six zeros (zero-padded amounts and counts do). [0-9], not \d: no other digits occur in an id.
_ID_SHAPE = re.compile(
    r"(?<![0-9*])(?!000000)(?:[0-9]{6}|(?:18|19|20)[0-9]{6})[-+ ]?[0-9]{4,5}(?![0-9*])"
)


def mask_id(national_id: str | None) -> str:
    """Mask one national id for mails and logs: only the first six characters (birth date) stay."""
    if not national_id:
        return ""
    return national_id[:6] + "*" * max(len(national_id) - 6, 0)


def mask_text(text: object) -> str:
    """``text`` with every national-id shaped number masked (``None`` or empty -> ``''``)."""
    if text is None or text == "":
        return ""
    return _ID_SHAPE.sub(lambda m: mask_id(m.group(0)), str(text))


def mask_series(texts):
    """``mask_text`` over a pandas Series of text (vectorised; missing values stay missing)."""
    masked = texts.str.replace(_ID_SHAPE, lambda m: mask_id(m.group(0)), regex=True)
    return masked.where(texts.notna(), texts)  # None stays None (not NaN) for the database


class MaskingFilter(logging.Filter):
    """Masks national ids in a record's message, arguments and exception text, in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record (always kept)."""
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


class _MaskingHandler(logging.Handler):
    """A handler that writes nothing: its filter masks each record before any handler above it.

    A filter on the ``inkasso`` logger itself would not see the records of ``inkasso.inbound``
    and the others (logger filters do not apply to records propagated from children); a
    handler's filter does, and ``callHandlers`` runs it before the handlers of the parent
    loggers (Airflow's task log, the console) format the same record object.
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Write nothing, except where Python's last resort would have: no handler configured."""
        # being a handler, this one stops logging.lastResort (warnings to stderr in a plain
        # script); do its job when nothing else would show the record
        last = logging.lastResort
        if last is not None and not logging.getLogger().handlers and record.levelno >= last.level:
            last.handle(record)


def install_log_masking(logger_name: str = "inkasso") -> None:
    """Mask national ids in every record of ``logger_name`` and its children (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(h, _MaskingHandler) for h in logger.handlers):
        handler = _MaskingHandler(level=logging.NOTSET)
        handler.addFilter(MaskingFilter())
        logger.addHandler(handler)
