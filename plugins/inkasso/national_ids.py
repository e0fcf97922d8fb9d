"""Validity of national ids and organisation numbers, by country, with python-stdnum."""

from __future__ import annotations

import pandas as pd
from stdnum.no import fodselsnummer
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr
from stdnum.se import personnummer

from inkasso.masking import mask_id  # noqa: F401  (the one masking, re-exported)

_VALIDATORS = {
    ("NO", False): fodselsnummer.is_valid,
    ("NO", True): no_orgnr.is_valid,
    ("SE", False): personnummer.is_valid,
    ("SE", True): se_orgnr.is_valid,
}


def is_valid_id(national_id: str | None, country: str, is_organisation: bool) -> bool:
    """True when ``national_id`` is a valid person or organisation number of ``country``."""
    validator = _VALIDATORS.get((country, bool(is_organisation)))
    return bool(national_id) and validator is not None and validator(national_id)


def valid_ids(frame: pd.DataFrame) -> pd.Series:
    """Vector of validity for a frame with national_id, country, is_organisation (one check per distinct id)."""
    keys = frame[["national_id", "country", "is_organisation"]].drop_duplicates()
    keys["valid"] = [is_valid_id(n, c, o) for n, c, o in keys.itertuples(index=False, name=None)]
    merged = frame[["national_id", "country", "is_organisation"]].merge(
        keys, on=["national_id", "country", "is_organisation"], how="left"
    )
    return pd.Series(merged["valid"].to_numpy(dtype=bool), index=frame.index)
