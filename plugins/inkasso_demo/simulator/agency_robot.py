"""The agency's side of the exchange: reads case and correction files, answers with receipts and,
over the following days, closures of every kind - deterministic from a seed.

``answer_day(sftp_root, agreements, day, seed, base=...)`` plays one business day for every
automated agreement (account folder ``sftp_root/<agreement_id>/``, folders from the agency's
profile) and, given the files base, every manual-export agreement: there the robot also plays the
person, reading what dispatch and corrections exported into ``<base>/manual_outbox/<agreement>/``
(as if the person had sent it) and writing the answers into ``<base>/manual_inbox/<agreement>/``
(as if the person had saved them there). The same logic answers both:

* every new case file in the upload folder gets a receipt the same day: most cases accepted
  with the agency's reference, a few rejected with a reason code and text;
* every accepted case gets a plan from ``seed`` and its case id: paid, partly paid then paid,
  closed by the agency, or uncollectible, a few days to a few weeks later (a few are handed back
  as recalled);
* correction files count: a recall (RC) closes the case as ``recalled`` on the day it is read;
  direct payments (DP) and credit notes (CN) lower what the agency can collect (a case paid in
  full to the creditor closes as ``closed`` with nothing collected);
* one closure file per agreement and day with the cases that close (or pay part) that day.

What the robot has seen and decided is kept in ``sftp_root/.robot/<agreement_id>.json`` (outside
every account's folder), written atomically under an exclusive lock
(``sftp_root/.robot/<agreement_id>.lock``), so the robot service
(``python -m inkasso_demo.simulator.robot``) and the demo DAG's step can answer the same
agreement at the same time and only one of them writes. Idempotence is per input file and per
day: each file is read once and answered (a receipt) as of its own business day (the header's
``file_date``: the day dispatch or corrections wrote it for), even when it arrives after that
day's closures were written; each day's closure file is written once, and never for a day
before one already closed (days go forward). Calling it twice writes nothing new; the same
inputs and seed give the same files byte for byte, whoever answers first.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from inkasso.formats import load_layout, load_profile
from inkasso_demo.simulator.locking import file_lock

ACCEPT_SHARE = 0.92
REJECTIONS = [
    ("R01", "Skyldner død - dødsbo ikke oppgitt"),
    ("R02", "Kravet er foreldet"),
    ("R03", "Skyldner under gjeldsordning"),
    ("R04", "Ukjent adresse i utlandet"),
]
# plan -> share of accepted cases (the rest of the share table sums to 1)
PLANS = [
    ("paid", 0.45),
    ("partly_then_paid", 0.15),
    ("closed", 0.12),
    ("uncollectible", 0.2),
    ("recalled", 0.08),
]


def _rng(seed: int, agreement_id: str, key, what: str) -> random.Random:
    # keyed by the invoice number, not the case id: case ids depend on the order in which the
    # mapped dispatch tasks ran, and the agency's answers must not
    return random.Random(f"{seed}:{agreement_id}:{key}:{what}")


def _attr(agreement, name: str):
    return agreement[name] if isinstance(agreement, dict) else getattr(agreement, name)


def _state_path(sftp_root: Path, agreement_id: str) -> Path:
    return sftp_root / ".robot" / f"{agreement_id}.json"


def _load_state(path: Path) -> dict:
    state = {"seen": [], "answered": [], "cases": {}, "receipts": {}, "case_days": []}
    if path.is_file():
        state |= json.loads(path.read_text(encoding="utf-8"))
    return state


def _save_state(path: Path, state: dict) -> None:
    """Write the state through a temporary file and a rename (never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _as_date(value) -> date | None:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def read_input(profile, customer_no: str, folder, name: str):
    """An arrived file: ``(kind, business day, detail records)``, kind ``new_cases`` or
    ``corrections``; ``(None, None, None)`` for any other name.

    The business day is the file's own ``file_date`` (its header: the day dispatch or
    corrections wrote it for), else the date in its name.
    """
    for kind in ("new_cases", "corrections"):
        spec = profile.files[kind]
        when = spec.when(name, customer_no)
        if when is None:
            continue
        parsed = load_layout(spec.layout).read((folder / name).read_bytes(), name)
        day = _as_date(parsed.header.get("file_date"))
        if day is None and when != datetime.min:
            day = when.date()
        return kind, day, parsed.details()
    return None, None, None


def _write(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{name}.part"
    part.write_bytes(data)
    part.rename(folder / name)


def _plan(seed: int, agreement_id: str, key, day: date) -> dict:
    rng = _rng(seed, agreement_id, key, "plan")
    pick, acc = rng.random(), 0.0
    plan = PLANS[-1][0]
    for name, share in PLANS:
        acc += share
        if pick < acc:
            plan = name
            break
    close_after = rng.randint(2, 21)
    return {
        "plan": plan,
        "close_day": (day + timedelta(days=close_after)).isoformat(),
        "part_day": (day + timedelta(days=rng.randint(1, close_after - 1))).isoformat(),
        "part_share": rng.randint(25, 60),
    }


def _new_case_file(state, agreement_id, data_frame, day, seed) -> list[dict]:
    """Receipt records for one case file; accepted cases are added to the robot's state."""
    out = []
    for row in data_frame.sort_values("case_id").itertuples(index=False):
        case_id = int(row.case_id)
        key = str(row.invoice_no)
        rng = _rng(seed, agreement_id, key, "receipt")
        if str(case_id) in state["cases"]:  # sent again: the same answer as before
            out.append(_receipt(case_id, state["cases"][str(case_id)]["ref"], "A", "", ""))
            continue
        if rng.random() < ACCEPT_SHARE:
            ref = f"{agreement_id[:3].upper()}{seed % 100:02d}{case_id:09d}"
            state["cases"][str(case_id)] = {
                "ref": ref,
                "sent": int(row.remaining_amount),
                "received": day.isoformat(),
                "reduced": 0,
                "collected": 0,
                "recalled": False,
                "closed": False,
            } | _plan(seed, agreement_id, key, day)
            out.append(_receipt(case_id, ref, "A", "", ""))
        else:
            code, text = REJECTIONS[rng.randrange(4)]
            out.append(_receipt(case_id, "", "R", code, text))
    return out


def _receipt(case_id: int, ref: str, status: str, code: str, text: str) -> dict:
    return {
        "case_id": case_id,
        "agency_case_ref": ref,
        "receipt_status": status,
        "reason_code": code,
        "reason_text": text,
    }


def _corrections(state: dict, frame: pd.DataFrame) -> None:
    for row in frame.itertuples(index=False):
        case = state["cases"].get(str(int(row.case_id)))
        if case is None or case["closed"]:
            continue
        if row.correction_type == "RC":
            case["recalled"] = True
        else:
            case["reduced"] += int(row.amount)


def _closures(state: dict, day: date) -> list[dict]:
    """The closure records of the day, in case order; the state moves on."""
    today = day.isoformat()
    out = []
    for key in sorted(state["cases"], key=int):
        case = state["cases"][key]
        if case["closed"] or case["received"] >= today:
            continue
        claim = max(case["sent"] - case["reduced"], 0)
        status = None
        if case["recalled"] or (case["plan"] == "recalled" and case["close_day"] <= today):
            status = "recalled"
        elif claim <= case["collected"]:
            status = "closed"  # paid to the creditor directly or credited: nothing left to chase
        elif case["plan"] == "partly_then_paid" and case["part_day"] == today:
            case["collected"] = min(claim * case["part_share"] // 100, claim - 1)
            status = "partly_paid"
        elif case["close_day"] <= today:
            status = {"partly_then_paid": "paid"}.get(case["plan"], case["plan"])
            if status == "paid":
                case["collected"] = claim
        if status is None:
            continue
        case["closed"] = status != "partly_paid"
        case["collected"] = min(case["collected"], case["sent"])
        out.append(
            {
                "case_id": int(key),
                "agency_case_ref": case["ref"],
                "status": status,
                "collected_amount": case["collected"],
                "remaining_amount": max(claim - case["collected"], 0),
                "closure_date": day,
            }
        )
    return out


def _folders(sftp_root: Path, agreement, profile, upload, outbox):
    home = sftp_root / _attr(agreement, "agreement_id")
    if upload is None:
        upload = home / profile.remote.upload_dir.strip("/")
    if outbox is None:
        outbox = home / profile.remote.outbox_dir.strip("/")
    return upload, outbox


def _unseen(upload, state: dict) -> list[str]:
    names = sorted(p.name for p in upload.iterdir() if p.is_file()) if upload.is_dir() else []
    return [n for n in names if n not in state["seen"] and not n.startswith(".")]


def pending_days(sftp_root: Path, agreement, *, upload=None) -> list[date]:
    """The business days of the files in the agreement's upload folder not read yet (sorted)."""
    profile = load_profile(_attr(agreement, "agency"))
    customer_no = _attr(agreement, "customer_no_at_agency")
    state = _load_state(_state_path(sftp_root, _attr(agreement, "agreement_id")))
    upload, _ = _folders(sftp_root, agreement, profile, upload, None)
    days = {read_input(profile, customer_no, upload, n)[1] for n in _unseen(upload, state)}
    return sorted(d for d in days if d is not None)


def answer_agreement(
    sftp_root: Path,
    agreement,
    day: date,
    seed: int,
    *,
    upload=None,
    outbox=None,
    closures: str = "always",
) -> dict:
    """Play one day of the agency for one agreement (see module doc).

    Reads every file not read yet whose business day (its header's ``file_date``, else the date
    in its name) is ``day`` or earlier, answering each case file with a receipt of its own day;
    files of later days wait.
    Then the day's closure file, once per day: ``closures="always"`` (the demo DAG, after the
    day's dispatch) or ``"after_cases"`` (the robot service: only once a case file of the day
    has arrived, so the day's corrections, sent before dispatch, are read first).

    ``upload`` (what the agency receives) and ``outbox`` (where its answers go) default to the
    profile's folders of the agreement's SFTP account; a manual agreement passes its manual
    outbox and inbox (``pathlib.Path`` or ``ObjectStoragePath``).
    """
    agreement_id = _attr(agreement, "agreement_id")
    customer_no = _attr(agreement, "customer_no_at_agency")
    profile = load_profile(_attr(agreement, "agency"))
    upload, outbox = _folders(sftp_root, agreement, profile, upload, outbox)
    state_file = _state_path(sftp_root, agreement_id)
    summary = {"agreement_id": agreement_id, "receipts": [], "closures": []}
    with file_lock(state_file.with_suffix(".lock")):
        state = _load_state(state_file)
        for name in _unseen(upload, state):
            kind, own_day, frame = read_input(profile, customer_no, upload, name)
            own_day = own_day or day
            if own_day > day:
                continue  # a later day's file: read on its own day
            if kind == "corrections":
                _corrections(state, frame)
            elif kind == "new_cases":
                receipts = _new_case_file(state, agreement_id, frame, own_day, seed)
                out_name = _write_receipt(state, profile, customer_no, outbox, own_day, receipts)
                summary["receipts"].append(out_name)
            state["seen"].append(name)
        if _closures_due(state, day, closures):
            summary |= _write_closures(state, profile, customer_no, outbox, day)
            state["answered"].append(day.isoformat())
        _save_state(state_file, state)
    return summary


def _write_receipt(state: dict, profile, customer_no: str, outbox, own_day: date, receipts) -> str:
    """One case file's receipt, named for its day's next receipt slot; returns its name."""
    count = state["receipts"].get(own_day.isoformat(), 0)
    state["receipts"][own_day.isoformat()] = count + 1
    when = datetime(own_day.year, own_day.month, own_day.day, 5, 30 + count)
    out_name = profile.files["receipt"].file_name(customer_no, when)
    header = {"customer_no": customer_no, "file_date": own_day}
    data = load_layout(profile.files["receipt"].layout).write(header, pd.DataFrame(receipts))
    _write(outbox, out_name, data)
    if own_day.isoformat() not in state["case_days"]:
        state["case_days"].append(own_day.isoformat())
    return out_name


def _closures_due(state: dict, day: date, closures: str) -> bool:
    """Whether ``day``'s closure file is due: once a day, in order, and per ``closures``."""
    today = day.isoformat()
    due = today not in state["answered"] and all(d < today for d in state["answered"])
    if closures == "after_cases":
        due = due and today in state["case_days"]
    return due


def _write_closures(state: dict, profile, customer_no: str, outbox, day: date) -> dict:
    """The day's closure file (when any case closes that day); returns the summary's part."""
    closures = _closures(state, day)
    if not closures:
        return {}
    codes = {status: code for code, status in profile.closure_statuses.items()}
    frame = pd.DataFrame(closures)
    frame["closure_status"] = frame["status"].map(codes)
    for col in ("case_id", "collected_amount", "remaining_amount"):
        frame[col] = frame[col].astype("int64")
    when = datetime(day.year, day.month, day.day, 5, 50)
    out_name = profile.files["closure"].file_name(customer_no, when)
    header = {"customer_no": customer_no, "file_date": day}
    data = load_layout(profile.files["closure"].layout).write(header, frame)
    _write(outbox, out_name, data)
    return {
        "closures": [out_name],
        "closed": frame["status"].value_counts().sort_index().to_dict(),
    }


def _manual_folders(base, agreement_id: str) -> dict:
    return {
        "upload": base / "manual_outbox" / agreement_id,
        "outbox": base / "manual_inbox" / agreement_id,  # inkasso.inbound.sources
    }


def answer_day(
    sftp_root: Path, agreements: Iterable, day: date, seed: int = 7, *, base=None
) -> list[dict]:
    """Play one day of every agreement's agency; returns what was written per agreement.

    ``agreements`` are ``inkasso.agreements.Agreement`` objects (or dicts with the same keys).
    Manual ones are answered through ``<base>/manual_outbox/`` and ``<base>/manual_inbox/`` when
    ``base`` (the files base, an ``ObjectStoragePath`` or a folder) is given, else skipped. Call
    it after ``inkasso_dispatch`` and before ``inkasso_inbound``.
    """
    out = []
    for a in agreements:
        mode = _attr(a, "mode")
        if mode == "sftp":
            out.append(answer_agreement(Path(sftp_root), a, day, seed))
        elif mode == "manual" and base is not None:
            folders = _manual_folders(base, _attr(a, "agreement_id"))
            out.append(answer_agreement(Path(sftp_root), a, day, seed, **folders))
    return out


def answer_arrived(
    sftp_root: Path, agreements: Iterable, today: date, seed: int = 7, *, base=None
) -> list[dict]:
    """What the robot service does on each poll: answer the files that have arrived, each as of
    its own business day (never a day after ``today``), with the closures of each day whose case
    file has arrived (``closures="after_cases"``); returns what was written (non-empty only).
    """
    out = []
    for a in agreements:
        try:
            out += _answer_arrived(Path(sftp_root), a, today, seed, base)
        except Exception as exc:  # noqa: BLE001 - one agency's broken file stops no other
            print(f"agency robot: {_attr(a, 'agreement_id')}: {exc!r}", file=sys.stderr)
    return out


def _answer_arrived(sftp_root: Path, a, today: date, seed: int, base) -> list[dict]:
    mode = _attr(a, "mode")
    if mode == "sftp":
        folders = {}
    elif mode == "manual" and base is not None:
        folders = _manual_folders(base, _attr(a, "agreement_id"))
    else:
        return []
    out = []
    for d in pending_days(sftp_root, a, upload=folders.get("upload")):
        if d > today:
            break  # a day ahead of the clock waits for its day
        done = answer_agreement(sftp_root, a, d, seed, closures="after_cases", **folders)
        if done["receipts"] or done["closures"]:
            out.append(done | {"day": d.isoformat()})
    return out
