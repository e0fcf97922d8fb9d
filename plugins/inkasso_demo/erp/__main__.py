"""Create a demo ERP from the command line (used by docker-compose.yaml and the benchmarks).

    python -m inkasso_demo.erp --url postgresql+psycopg2://erp:erp@erp-db/erp --start-day 2025-03-03

Runs the pipeline's migrations first, then fills the ERP; an ERP that already has data is left
as it is (exit status 0, so a container restart is harmless).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

from inkasso.db.engine import engine_for_url
from inkasso.db.migrate import upgrade
from inkasso_demo.erp.generator import create_demo_erp, demo_erp_exists


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, migrate, generate; print the counts and the time taken."""
    parser = argparse.ArgumentParser(prog="python -m inkasso_demo.erp", description=__doc__)
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the ERP database")
    parser.add_argument("--start-day", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    engine = engine_for_url(args.url)
    upgrade(engine)
    if demo_erp_exists(engine):
        print(f"the demo ERP at {engine.url!r} already has data; left as it is")
        return 0
    began = time.perf_counter()
    counts = create_demo_erp(
        engine, seed=args.seed, customers=args.customers, start_day=args.start_day
    )
    print(json.dumps(counts, indent=1))
    print(f"created in {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
