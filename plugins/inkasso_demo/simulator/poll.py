"""The polling loop of the demo world's long-running services (agency robot, demo bank).

Every ``INKASSO_DEMO_POLL_SECONDS`` (default 5; or ``--interval``) the service does one step;
SIGTERM or Ctrl-C ends the loop after the step in progress (never half a file), exit status 0.
A step that fails (the ERP not created yet, say) is logged and tried again at the next poll.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import date, datetime

POLL_ENV = "INKASSO_DEMO_POLL_SECONDS"
DEFAULT_POLL_SECONDS = 5.0


def poll_seconds(value: float | None = None) -> float:
    """The poll interval: ``value`` when given, else ``INKASSO_DEMO_POLL_SECONDS``, else 5 s."""
    if value is not None:
        return float(value)
    return float(os.environ.get(POLL_ENV) or DEFAULT_POLL_SECONDS)


def business_today() -> date:
    """Today in Europe/Oslo: the last business day a service may play (never one ahead)."""
    from inkasso.runs import BUSINESS_TZ

    return datetime.now(BUSINESS_TZ).date()


def service_args(
    prog: str,
    description: str | None,
    argv: list[str] | None,
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """A service's command line: ``--interval``, its own options (``add_options``), ``--once``."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--interval", type=float, help="seconds between polls (default 5)")
    if add_options is not None:
        add_options(parser)
    parser.add_argument("--once", action="store_true", help="one poll, then exit")
    return parser.parse_args(argv)


def run_service(name: str, step: Callable[[], object], args: argparse.Namespace) -> int:
    """``run_polling`` with the interval and ``--once`` of a command line from ``service_args``."""
    return run_polling(name, step, poll_seconds(args.interval), args.once)


def run_polling(name: str, step: Callable[[], object], interval: float, once: bool = False) -> int:
    """Call ``step`` every ``interval`` seconds until SIGTERM / SIGINT; print what it did."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"{name}: polling every {interval:g} s; Ctrl-C or SIGTERM stops", flush=True)
    while not stop.is_set():
        try:
            done = step()
            if done:
                print(f"{name}: {done}", flush=True)
        except Exception:  # noqa: BLE001 - a service keeps going; the next poll tries again
            print(f"{name}: step failed, trying again in {interval:g} s", file=sys.stderr)
            traceback.print_exc()
            sys.stderr.flush()
        if once or stop.wait(interval):
            break
    print(f"{name} stopped", flush=True)
    return 0
