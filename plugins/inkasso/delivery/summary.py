"""The log lines of an outgoing run (dispatch, corrections): one per agreement, what it
prepared and which files went out."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def log_agreement_lines(
    results: list[dict], status_width: int, figures: list[tuple[str, str, int]]
) -> None:
    """Log one line per delivered result: agreement, the prepare's status, its ``figures``
    (label, key in the prepare's summary, column width) and the names of the files delivered."""
    line = (
        f"%-18s %-{status_width}s "
        + " ".join(f"{label}=%-{width}s" for label, _, width in figures)
        + " delivered=%s"
    )
    for res in results:
        prep = res.get("prepared", {})
        log.info(
            line,
            res["agreement_id"],
            prep.get("status"),
            *(prep.get(key, 0) for _, key, _ in figures),
            [f["file_name"] for f in res.get("files", [])],
        )
