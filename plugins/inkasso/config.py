"""Where things are: the project's include folder and the base location for files at rest."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = Path(os.environ.get("INKASSO_INCLUDE_DIR", PROJECT_ROOT / "include"))
FORMATS_DIR = INCLUDE_DIR / "formats"
SQL_DIR = INCLUDE_DIR / "sql"
TEMPLATES_DIR = INCLUDE_DIR / "templates"
RULES_DIR = INCLUDE_DIR / "rules"


def base_url() -> str:
    """The base location (URL) of the outbox, inbound archive and quarantine.

    ``INKASSO_BASE`` may be a local folder or any fsspec URL (``s3://bucket/inkasso``); by default
    it is ``inkasso-files`` inside ``AIRFLOW_HOME``.
    """
    value = os.environ.get("INKASSO_BASE")
    if not value:
        home = os.environ.get("AIRFLOW_HOME", str(PROJECT_ROOT / ".airflow"))
        value = str(Path(home) / "inkasso-files")
    if "://" not in value:
        value = "file://" + str(Path(value).resolve())
    return value


def read_yaml(path: Path | str):
    """The YAML file at ``path`` (layouts, profiles, checks, gates), parsed safely.

    libyaml's loader when PyYAML was built with it (the wheels are): the pure-Python one took
    about 1.6 s of CPU per process for the formats alone.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
