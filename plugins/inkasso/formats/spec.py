"""The parts of a record layout (fields, record types, controls), read and checked from YAML."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from inkasso.formats.errors import LayoutError

FIELD_TYPES = ("text", "integer", "amount", "date")
ROLES = ("header", "detail", "trailer")
LINE_ENDINGS = {"crlf": "\r\n", "lf": "\n"}


@dataclass(frozen=True)
class Field:
    """One field of a record: where it sits (fixed) or its column (delimited), type and rules."""

    name: str
    type: str = "text"
    start: int | None = None  # 1-based, fixed-width only
    width: int | None = None  # fixed: exact width; delimited: maximum length
    required: bool = False
    const: str | None = None
    values: tuple[str, ...] | None = None
    align: str = "left"
    pad: str | None = " "
    signed: bool = False
    format: str = "%Y%m%d"
    decimals: int = 0
    decimal_separator: str = ","


@dataclass(frozen=True)
class Control:
    """A trailer field that is computed on write and checked on read."""

    field: str
    count: tuple[str, ...] = ()  # record types counted
    sum: str | None = None  # field summed ...
    of: tuple[str, ...] = ()  # ... over these record types


@dataclass(frozen=True)
class RecordSpec:
    """One record type: its code in the file, its role and its fields in order."""

    type: str
    code: str
    role: str
    fields: tuple[Field, ...]
    length: int | None = None  # fixed: the line length
    controls: tuple[Control, ...] = dc_field(default_factory=tuple)

    @property
    def field_names(self) -> list[str]:
        """The names of the fields, in file order."""
        return [f.name for f in self.fields]


def _field_from_yaml(layout: str, kind: str, raw: dict[str, Any]) -> Field:
    where = f"layout {layout} field {raw.get('name')!r}"
    unknown = set(raw) - {f for f in Field.__dataclass_fields__}
    if unknown:
        raise LayoutError(f"{where}: unknown keys {sorted(unknown)}")
    ftype = raw.get("type", "text")
    if ftype not in FIELD_TYPES:
        raise LayoutError(f"{where}: type must be one of {FIELD_TYPES}")
    numeric = ftype in ("integer", "amount")
    values = raw.get("values")
    const = raw.get("const")
    args = dict(raw)
    args["values"] = tuple(str(v) for v in values) if values is not None else None
    args["const"] = str(const) if const is not None else None
    args.setdefault("align", "right" if numeric else "left")
    if kind == "fixed":
        if not isinstance(raw.get("start"), int) or not isinstance(raw.get("width"), int):
            raise LayoutError(f"{where}: a fixed-width field needs integer start and width")
        if raw["start"] < 1 or raw["width"] < 1:
            raise LayoutError(f"{where}: start and width are 1-based and positive")
        args.setdefault("pad", "0" if numeric else " ")
    else:
        if "start" in raw:
            raise LayoutError(f"{where}: a delimited field has no start (columns are in order)")
        args.setdefault("pad", None)
    if args["pad"] not in (" ", "0", None):
        raise LayoutError(f"{where}: pad must be ' ' or '0'")
    if args["align"] not in ("left", "right"):
        raise LayoutError(f"{where}: align must be left or right")
    if ftype == "text" and args["pad"] == "0" and args["align"] != "right":
        raise LayoutError(f"{where}: a zero-filled text (pad '0') is right-aligned")
    if (args.get("decimals") or args.get("signed")) and not numeric:
        raise LayoutError(f"{where}: decimals/signed only for integer and amount")
    return Field(**args)


def _controls_from_yaml(layout: str, raw: dict[str, Any], details: list[str]) -> tuple:
    controls = []
    for name, spec in (raw or {}).items():
        if "count" in spec:
            counted = spec["count"] or details
            controls.append(Control(field=name, count=tuple(counted)))
        elif "sum" in spec:
            controls.append(
                Control(field=name, sum=spec["sum"], of=tuple(spec.get("of") or details))
            )
        else:
            raise LayoutError(f"layout {layout} control {name}: needs count or sum")
    return tuple(controls)


def records_from_yaml(layout: str, kind: str, raw: dict[str, Any], record_length: int | None):
    """Parse and check the ``records:`` mapping of a layout; returns {type: RecordSpec}."""
    if not raw:
        raise LayoutError(f"layout {layout}: no records")
    details = [t for t, r in raw.items() if r.get("role", "detail") == "detail"]
    records: dict[str, RecordSpec] = {}
    codes: set[str] = set()
    for rtype, spec in raw.items():
        role = spec.get("role", "detail")
        if role not in ROLES:
            raise LayoutError(f"layout {layout} record {rtype}: role must be one of {ROLES}")
        code = str(spec["code"])
        if code in codes:
            raise LayoutError(f"layout {layout} record {rtype}: code {code!r} used twice")
        codes.add(code)
        fields = tuple(_field_from_yaml(layout, kind, f) for f in spec.get("fields", []))
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise LayoutError(f"layout {layout} record {rtype}: a field name is used twice")
        controls = _controls_from_yaml(layout, spec.get("controls"), details)
        for c in controls:
            if c.field not in names:
                raise LayoutError(f"layout {layout} control {c.field}: no such field in {rtype}")
        records[rtype] = RecordSpec(
            type=rtype,
            code=code,
            role=role,
            fields=fields,
            length=spec.get("length", record_length),
            controls=controls,
        )
    roles = [r.role for r in records.values()]
    for role in ("header", "trailer"):
        if roles.count(role) > 1:
            raise LayoutError(f"layout {layout}: more than one {role} record type")
    if not details:
        raise LayoutError(f"layout {layout}: no detail record type")
    for rec in records.values():
        for c in rec.controls:
            for t in c.count + c.of:
                if t not in records:
                    raise LayoutError(f"layout {layout} control {c.field}: no record type {t}")
            if c.sum:
                for t in c.of:
                    if c.sum not in records[t].field_names:
                        raise LayoutError(f"layout {layout} control {c.field}: {t} has no {c.sum}")
    return records


def check_fixed_positions(
    layout: str, records: dict[str, RecordSpec], code_start: int, code_width: int
):
    """Fields must not overlap each other or the record-type code, and must fit the line."""
    for rec in records.values():
        if len(rec.code) != code_width:
            raise LayoutError(f"layout {layout} record {rec.type}: code must be {code_width} wide")
        taken = [(code_start, code_start + code_width - 1, "record type")]
        for f in rec.fields:
            taken.append((f.start, f.start + f.width - 1, f.name))
        taken.sort()
        for (_a0, a1, an), (b0, _b1, bn) in zip(taken, taken[1:], strict=False):
            if b0 <= a1:
                raise LayoutError(f"layout {layout} record {rec.type}: {an} overlaps {bn}")
        end = taken[-1][1]
        if rec.length is not None and end > rec.length:
            raise LayoutError(
                f"layout {layout} record {rec.type}: fields end at {end} > {rec.length}"
            )


@dataclass(frozen=True)
class LayoutSpec:
    """A file layout's declaration: record types told apart by a code, their fields, and the
    trailer controls. ``inkasso.formats.layout.Layout`` adds reading and writing; the reader and
    the writer take this declaration, so that neither imports the other's caller."""

    name: str
    kind: str  # fixed | delimited
    encoding: str
    line_ending: str  # the characters, "\r\n" or "\n"
    records: dict[str, RecordSpec]
    description: str = ""
    code_start: int = 1  # fixed: where the record-type code sits (1-based)
    code_width: int = 2
    delimiter: str = ";"
    column_names: str | None = None  # delimited: record type whose column names open the file
    lenient_length: bool = False  # fixed: short lines padded, extra trailing spaces allowed

    # ----------------------------------------------------------------------------- structure
    def _role(self, role: str) -> RecordSpec | None:
        for rec in self.records.values():
            if rec.role == role:
                return rec
        return None

    @property
    def header(self) -> RecordSpec | None:
        """The header record type, or None when the layout has none."""
        return self._role("header")

    @property
    def trailer(self) -> RecordSpec | None:
        """The trailer record type, or None when the layout has none."""
        return self._role("trailer")

    @property
    def detail_types(self) -> list[str]:
        """The names of the detail record types, in declaration order."""
        return [t for t, r in self.records.items() if r.role == "detail"]

    def fields(self, record_type: str) -> list[str]:
        """The field names of one record type, in file order."""
        return self.records[record_type].field_names
