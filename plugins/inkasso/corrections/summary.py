"""The end of a corrections run: one log line per agreement and the day's totals."""

from __future__ import annotations

from inkasso.delivery.summary import log_agreement_lines

FIGURES = [("corrections", "corrections", 6), ("amount", "amount", 12)]


def log_summary(results: list[dict]) -> dict:
    """Log one line per agreement of a corrections run and return the totals (``held``: the
    corrections the agencies' layouts could not carry, left for the next run)."""
    log_agreement_lines(results, 18, FIGURES)
    totals = {"agreements": len(results), "files": 0, "corrections": 0, "amount": 0, "held": 0}
    for res in results:
        prep = res.get("prepared", {})
        totals["held"] += len(prep.get("held", []))
        if prep.get("status") == "written":
            totals["files"] += 1
            totals["corrections"] += int(prep.get("corrections", 0))
            totals["amount"] += int(prep.get("amount", 0))
    return totals
