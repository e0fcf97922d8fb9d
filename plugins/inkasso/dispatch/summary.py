"""The end of a dispatch run: one log line per agreement and the day's totals."""

from __future__ import annotations

from inkasso.delivery.summary import log_agreement_lines

FIGURES = [("cases", "cases", 6), ("amount", "amount", 12), ("held", "held_invoices", 5)]


def log_summary(results: list[dict]) -> dict:
    """Log one line per agreement of a dispatch run and return the totals."""
    log_agreement_lines(results, 16, FIGURES)
    totals = {"agreements": len(results), "files": 0, "cases": 0, "held_invoices": 0}
    for res in results:
        prep = res.get("prepared", {})
        totals["files"] += len(res.get("files", []))
        totals["cases"] += int(prep.get("cases", 0)) if prep.get("status") == "written" else 0
        totals["held_invoices"] += int(prep.get("held_invoices", 0))
    return totals
