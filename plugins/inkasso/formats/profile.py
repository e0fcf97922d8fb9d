"""Agency profiles: naming, layouts, remote folders and modes of one agency, from
``include/formats/agencies/<agency>.yaml``. A new agency is a YAML file, not code.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from inkasso.config import read_yaml
from inkasso.formats.errors import LayoutError
from inkasso.formats.layout import Layout, load_layout

OUTGOING = ("new_cases", "corrections")
INCOMING = ("receipt", "closure")
MODES = ("sftp", "manual")
CLOSURE_STATUSES = ("paid", "partly_paid", "closed", "recalled", "uncollectible")

# The columns every agency's layout carries for each file kind (the pipeline's frames use them).
KIND_COLUMNS: dict[str, dict[str, list[str]]] = {
    "new_cases": {
        "header": ["customer_no", "client_name", "client_org_no", "file_date", "currency"],
        "detail": [
            "case_id", "invoice_no", "debtor_no", "debtor_name", "debtor_type", "national_id",
            "street", "postcode", "city", "country", "invoice_date", "due_date",
            "original_amount", "remaining_amount", "currency", "kid",
        ],
        "trailer": ["record_count", "amount_total"],
    },
    "corrections": {
        "header": ["customer_no", "file_date"],
        "detail": [
            "case_id", "agency_case_ref", "invoice_no", "correction_type", "amount",
            "correction_date",
        ],
        "trailer": ["record_count", "amount_total"],
    },
    "receipt": {
        "header": ["customer_no", "file_date"],
        "detail": ["case_id", "agency_case_ref", "receipt_status", "reason_code", "reason_text"],
        "trailer": ["record_count"],
    },
    "closure": {
        "header": ["customer_no", "file_date"],
        "detail": [
            "case_id", "agency_case_ref", "closure_status", "collected_amount",
            "remaining_amount", "closure_date",
        ],
        "trailer": ["record_count", "amount_total"],
    },
}  # fmt: skip

# [0-9], not \d: \d also matches Arabic-Indic and other Unicode digits
_DIRECTIVE_RE = {"%Y": "[0-9]{4}", "%y": "[0-9]{2}", "%m": "[0-9]{2}", "%d": "[0-9]{2}",
                 "%H": "[0-9]{2}", "%M": "[0-9]{2}", "%S": "[0-9]{2}"}  # fmt: skip


@dataclass(frozen=True)
class RemoteFolders:
    """Folders on the agency's server: where we upload, where it answers, where answers go after."""

    upload_dir: str
    outbox_dir: str
    processed_dir: str | None  # None: the agency cleans its outbox itself


@dataclass(frozen=True)
class FileSpec:
    """One kind of file exchanged with an agency: its layout, direction and name template.

    The template uses ``{customer_no}`` and ``{when:<strftime>}``, e.g.
    ``LS{customer_no}{when:%Y%m%d%H%M%S}.txt``.
    """

    kind: str
    layout: str
    direction: str  # out | in
    name: str

    def file_name(self, customer_no: str, when: datetime) -> str:
        """The name of an outgoing file for the client's customer number at the agency."""
        return self.name.format(customer_no=customer_no, when=when)

    @property
    def _pattern_parts(self) -> list[tuple[str, str | None, str]]:
        return [(lit, fld, spec or "") for lit, fld, spec, _ in string.Formatter().parse(self.name)]

    def _regex(self, customer_no: str) -> re.Pattern[str]:
        out = []
        for literal, fld, spec in self._pattern_parts:
            out.append(re.escape(literal))
            if fld == "customer_no":
                out.append(re.escape(customer_no))
            elif fld == "when":
                parts = re.split(r"(%.)", spec)
                out.append(
                    "(?P<when>"
                    + "".join(_DIRECTIVE_RE.get(p, re.escape(p)) for p in parts if p)
                    + ")"
                )
        return re.compile("".join(out) + r"\Z")

    def when(self, file_name: str, customer_no: str) -> datetime | None:
        """The date and time in a file name of this kind, or None when the name does not match."""
        found = self._regex(customer_no).match(file_name)
        if not found:
            return None
        spec = next((s for _, f, s in self._pattern_parts if f == "when"), None)
        if spec is None:
            return datetime.min
        try:
            return datetime.strptime(found.group("when"), spec)
        except ValueError:
            return None

    def matches(self, file_name: str, customer_no: str) -> bool:
        """True when ``file_name`` is a file of this kind for this customer number."""
        return self.when(file_name, customer_no) is not None

    def load_layout(self) -> Layout:
        """The layout of this kind of file."""
        return load_layout(self.layout)


@dataclass(frozen=True)
class AgencyProfile:
    """Everything agency-specific: naming, layouts, folders, modes and closure status codes."""

    name: str
    display_name: str
    countries: tuple[str, ...]
    modes: tuple[str, ...]
    encoding: str
    remote: RemoteFolders
    files: dict[str, FileSpec]
    closure_statuses: dict[str, str]  # agency code -> paid | partly_paid | closed | ...
    description: str = ""
    # the new-case file carries each invoice's reminder count (the layout's ``reminder_count``)
    carries_reminder_count: bool = True

    def file(self, kind: str) -> FileSpec:
        """The file spec of one kind (new_cases, corrections, receipt, closure)."""
        try:
            return self.files[kind]
        except KeyError:
            raise KeyError(f"agency {self.name} has no file kind {kind!r}") from None

    def incoming_kind(self, file_name: str, customer_no: str) -> str | None:
        """Which incoming kind (receipt, closure) a file in the agency's outbox is, if any."""
        for kind in INCOMING:
            if kind in self.files and self.files[kind].matches(file_name, customer_no):
                return kind
        return None

    def closure_status(self, code: str) -> str:
        """The pipeline's closure status for the agency's code; KeyError for an unknown code."""
        try:
            return self.closure_statuses[code]
        except KeyError:
            raise KeyError(f"agency {self.name}: unknown closure status {code!r}") from None


def agencies_dir() -> Path:
    """The folder of agency profile YAML files (``include/formats/agencies``)."""
    from inkasso import config

    return Path(config.FORMATS_DIR) / "agencies"


def list_profiles(directory: Path | None = None) -> list[str]:
    """The names of all agency profiles, e.g. ``['credicare', 'creno', ...]``."""
    return sorted(p.stem for p in (directory or agencies_dir()).glob("*.yaml"))


def load_profile(agency: str, directory: Path | None = None) -> AgencyProfile:
    """The profile of ``agency``; its layouts are loaded and checked for the kind's columns."""
    path = (directory or agencies_dir()) / f"{agency}.yaml"
    if not path.is_file():
        raise LayoutError(
            f"no agency profile {agency!r} (known: {', '.join(list_profiles(directory))})"
        )
    return _load(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load(path: str, _mtime: int) -> AgencyProfile:
    raw = read_yaml(path)
    profile = profile_from_dict(raw, expected_name=Path(path).stem)
    check_profile_layouts(profile)
    return profile


def profile_from_dict(raw: dict[str, Any], expected_name: str | None = None) -> AgencyProfile:
    """Build and check an ``AgencyProfile`` from its YAML mapping (layouts are not loaded)."""
    name = raw.get("name")
    where = f"agency profile {name}"
    if expected_name is not None and name != expected_name:
        raise LayoutError(f"agency file {expected_name}.yaml says name: {name!r}")
    modes = tuple(raw.get("modes") or ())
    if not modes or set(modes) - set(MODES):
        raise LayoutError(f"{where}: modes must be a non-empty list of {MODES}")
    remote = raw.get("remote") or {}
    for key in ("upload_dir", "outbox_dir"):
        if not remote.get(key):
            raise LayoutError(f"{where}: remote.{key} is required")
    files = {}
    for kind in OUTGOING + INCOMING:
        spec = (raw.get("files") or {}).get(kind)
        if spec is None:
            raise LayoutError(f"{where}: files.{kind} is missing")
        direction = "out" if kind in OUTGOING else "in"
        if spec.get("direction", direction) != direction:
            raise LayoutError(f"{where}: files.{kind} must have direction {direction}")
        files[kind] = FileSpec(
            kind=kind, layout=spec["layout"], direction=direction, name=spec["name"]
        )
    statuses = {str(k): str(v) for k, v in (raw.get("closure_statuses") or {}).items()}
    if not statuses or set(statuses.values()) - set(CLOSURE_STATUSES):
        raise LayoutError(f"{where}: closure_statuses must map codes to {CLOSURE_STATUSES}")
    return AgencyProfile(
        name=name,
        display_name=raw.get("display_name", name),
        countries=tuple(raw.get("countries") or ()),
        modes=modes,
        encoding=str(raw.get("encoding", "")).lower(),
        remote=RemoteFolders(
            upload_dir=remote["upload_dir"],
            outbox_dir=remote["outbox_dir"],
            processed_dir=remote.get("processed_dir"),
        ),
        files=files,
        closure_statuses=statuses,
        description=str(raw.get("description", "")).strip(),
        carries_reminder_count=_flag(raw, "carries_reminder_count", True, where),
    )


def _flag(raw: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise LayoutError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def check_profile_layouts(profile: AgencyProfile) -> None:
    """Each file kind's layout exists, is in the profile's encoding and has the kind's columns."""
    for kind, spec in profile.files.items():
        layout = load_layout(spec.layout)
        where = f"agency {profile.name} files.{kind} ({layout.name})"
        if layout.encoding != profile.encoding:
            raise LayoutError(
                f"{where}: encoding {layout.encoding}, profile says {profile.encoding}"
            )
        for role, columns in KIND_COLUMNS[kind].items():
            rec = getattr(layout, role) if role != "detail" else layout.records.get("detail")
            if rec is None:
                raise LayoutError(f"{where}: no {role} record")
            missing = [c for c in columns if c not in rec.field_names]
            if missing:
                raise LayoutError(f"{where}: {role} lacks {missing}")
        if kind == "new_cases":
            detail = {f.name: f for f in layout.records["detail"].fields}
            count = detail.get("reminder_count")
            if profile.carries_reminder_count and count is None:
                raise LayoutError(
                    f"{where}: carries_reminder_count is true but the detail has no reminder_count"
                )
            if not profile.carries_reminder_count and count is not None and count.required:
                raise LayoutError(
                    f"{where}: carries_reminder_count is false but reminder_count is required"
                )
        if kind == "closure":
            status = next(f for f in layout.records["detail"].fields if f.name == "closure_status")
            if status.values is not None and set(status.values) != set(profile.closure_statuses):
                raise LayoutError(f"{where}: closure_status values differ from closure_statuses")
