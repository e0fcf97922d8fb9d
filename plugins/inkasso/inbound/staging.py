"""The case ids of an agency file staged in SQL, so duplicates across the whole file are found
set-based, with memory bounded by a chunk."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text

from inkasso.db.staging import analyze, load, stage_table

IDS_STAGE = "tmp_inbound_ids"
IDS_COLUMNS = {"line": "int", "case_id": "int"}
REPEATS_SHOWN = 50  # lines worded per duplicate check (as ``validate.MAX_PER_CHECK``)


class StagedIds:
    """The case id of every record of one file, with its line, in a temporary table on the
    caller's connection, chunk by chunk; duplicates across the whole file are then found
    set-based in SQL, so no per-record state is held in Python (memory bounded by a chunk).
    Ids that are not integers are staged as NULL and never count as duplicates."""

    def __init__(self, conn) -> None:
        """Create the empty table on ``conn`` (inside its transaction)."""
        self.conn = conn
        self.table = stage_table(conn, IDS_STAGE, IDS_COLUMNS)
        self._indexed = False
        self._repeats: int | None = None

    def add(self, lines: pd.Series, case_ids: pd.Series) -> None:
        """Stage one chunk's records (their file lines and case ids)."""
        ids = pd.to_numeric(case_ids, errors="coerce")
        frame = pd.DataFrame({"line": lines.to_numpy(), "case_id": ids.to_numpy()})
        frame["case_id"] = frame["case_id"].astype("Int64")
        load(self.conn, self.table, frame, IDS_COLUMNS)

    def _index(self) -> None:
        """One index once the file is staged (cheaper than keeping it up while loading)."""
        if not self._indexed:
            self.conn.execute(
                text(f'CREATE INDEX "{IDS_STAGE}_case" ON "{IDS_STAGE}" (case_id, line)')
            )
            analyze(self.conn, self.table)
            self._indexed = True

    def repeated(self, limit: int = REPEATS_SHOWN) -> tuple[int, list[tuple[int, int]]]:
        """Records whose case id an earlier line of the file has: how many, and the first
        ``limit`` as (line, case id), in line order."""
        self._index()
        later = f"""
            FROM "{IDS_STAGE}" t
            WHERE t.case_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM "{IDS_STAGE}" e WHERE e.case_id = t.case_id AND e.line < t.line)"""
        count = self.conn.execute(text(f"SELECT COUNT(*) {later}")).scalar_one()
        self._repeats = int(count)
        if not count:
            return 0, []
        rows = self.conn.execute(
            text(f"SELECT t.line, t.case_id {later} ORDER BY t.line LIMIT :n"), {"n": limit}
        ).all()
        return int(count), [(int(line), int(case_id)) for line, case_id in rows]

    def not_unique(self, limit: int = 3) -> tuple[int, list[tuple[int, int]]]:
        """Records whose case id occurs on more than one line (every one of them, as a
        uniqueness expectation counts): how many, and the first ``limit`` (line, case id)."""
        self._index()
        if self._repeats == 0:  # no id on a later line: none on two lines either
            return 0, []
        shared = f"""
            FROM "{IDS_STAGE}" t
            WHERE t.case_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM "{IDS_STAGE}" e WHERE e.case_id = t.case_id AND e.line <> t.line)"""
        count = self.conn.execute(text(f"SELECT COUNT(*) {shared}")).scalar_one()
        if not count:
            return 0, []
        rows = self.conn.execute(
            text(f"SELECT t.line, t.case_id {shared} ORDER BY t.line LIMIT :n"), {"n": limit}
        ).all()
        return int(count), [(int(line), int(case_id)) for line, case_id in rows]

    def drop(self) -> None:
        """Drop the table (the transaction's end would, on PostgreSQL; SQLite keeps it)."""
        self.table.drop(self.conn)
