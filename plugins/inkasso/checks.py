"""Data checks with Great Expectations, suites declared in ``include/formats/checks/*.yaml``.

GX is imported inside the function: it is heavy (about 2 s) and must never load at DAG parse time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cache

import pandas as pd
import yaml

from inkasso.config import FORMATS_DIR

log = logging.getLogger(__name__)


class DataCheckError(ValueError):
    """A frame failed its suite; ``failures`` says which expectation and on which values."""

    def __init__(self, suite: str, failures: list[str]):
        self.suite = suite
        self.failures = failures
        super().__init__(f"data check {suite!r} failed: " + "; ".join(failures))


@dataclass
class CheckResult:
    """Outcome of one suite on one frame."""

    suite: str
    success: bool
    evaluated: int
    failures: list[str] = field(default_factory=list)


@cache
def load_suite(name: str) -> dict:
    """Read ``include/formats/checks/<name>.yaml``."""
    return yaml.safe_load((FORMATS_DIR / "checks" / f"{name}.yaml").read_text(encoding="utf-8"))


def run_suite(name: str, frame: pd.DataFrame) -> CheckResult:
    """Validate ``frame`` against the suite ``name``; returns the result, never raises on failure."""
    import great_expectations as gx
    from great_expectations.core.validation_definition import ValidationDefinition

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    spec = load_suite(name)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    source = context.data_sources.add_pandas(f"{name}_source")
    asset = source.add_dataframe_asset(f"{name}_frame")
    batch = asset.add_batch_definition_whole_dataframe(f"{name}_batch")
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for item in spec["expectations"]:
        ((cls_name, kwargs),) = item.items()
        suite.add_expectation(getattr(gx.expectations, cls_name)(**kwargs))
    validation = ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    outcome = validation.run(batch_parameters={"dataframe": frame})
    failures = []
    for res in outcome.results:
        if not res.success:
            cfg = res.expectation_config
            examples = (res.result or {}).get("partial_unexpected_list", [])[:3]
            kwargs = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
            failures.append(f"{cfg.type} {kwargs}: unexpected values e.g. {examples}")
    return CheckResult(name, bool(outcome.success), len(outcome.results), failures)


def check_frame(name: str, frame: pd.DataFrame) -> CheckResult:
    """Validate and raise ``DataCheckError`` when the frame fails its suite."""
    result = run_suite(name, frame)
    if not result.success:
        raise DataCheckError(name, result.failures)
    log.info("data check %s: %s expectations passed on %s rows", name, result.evaluated, len(frame))
    return result
