"""``python -m bench``: parse the options, run one session, write and print the report."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import report
from bench.database import is_postgres, redact
from bench.load import generator_name
from bench.options import QUICK, SCENARIOS, Options
from bench.session import Session, say
from bench.stack import Topology


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the WOWsino stack against its floors on this machine; write bench/results/<date>.*",
    )
    commands.add_argument("--quick", action="store_true", help="short loads and scaled-down counts (about 3 minutes)")
    commands.add_argument("--runs", type=int, help="runs per scenario; medians are reported (default 3)")
    commands.add_argument(
        "--duration", type=int, help="seconds per load measurement (whole seconds; default 6, quick 2)"
    )
    commands.add_argument(
        "--scenarios",
        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)",
    )
    commands.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or None,
        help="postgresql://user@host/db: a fresh database is created on that server and dropped afterwards "
        "(default: $DATABASE_URL, else a fresh SQLite file)",
    )
    for name in ("web-concurrency", "event-processes", "event-threads", "draw-processes", "draw-threads"):
        variable = name.upper().replace("-", "_")
        commands.add_argument(f"--{name}", type=int, help=f"{variable} (default: the Procfile's)")
    commands.add_argument("--output", type=Path, help="folder for the reports (default bench/results)")
    commands.add_argument("--budget", type=float, help="seconds the whole session may take (default 840, quick 210)")
    return commands


def options_from(arguments: argparse.Namespace) -> Options:
    chosen: dict[str, Any] = dict(QUICK) if arguments.quick else {}
    if arguments.runs is not None:
        chosen["runs"] = max(1, arguments.runs)
    if arguments.duration is not None:
        chosen["duration_s"] = max(1.0, arguments.duration)
    if arguments.output is not None:
        chosen["output"] = arguments.output
    if arguments.budget is not None:
        chosen["budget_s"] = arguments.budget
    if arguments.scenarios:
        wanted = tuple(name.strip() for name in arguments.scenarios.split(",") if name.strip())
        unknown = sorted(set(wanted) - set(SCENARIOS))
        if unknown:
            raise SystemExit(f"bench: unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
        chosen["scenarios"] = wanted
    url = arguments.database_url
    if url and not is_postgres(url) and not url.startswith("sqlite"):
        raise SystemExit("bench: --database-url must be postgresql://… (or leave it out for SQLite)")
    topology = Topology.from_procfile(
        web_concurrency=arguments.web_concurrency,
        event_processes=arguments.event_processes,
        event_threads=arguments.event_threads,
        draw_processes=arguments.draw_processes,
        draw_threads=arguments.draw_threads,
    )
    return Options(quick=arguments.quick, database_url=url if is_postgres(url) else None, topology=topology, **chosen)


def _stop(signum: int, _frame: object) -> None:
    """A ``kill`` of the benchmark stops it as Ctrl-C does: what the run started is stopped with it."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    options = options_from(parser().parse_args(argv))
    if generator_name() != "wrk":
        say("wrk is not installed (apt-get install -y wrk): falling back to the asyncio generator, bench.loadgen")
    database = redact(options.database_url) if options.database_url else "a fresh SQLite file"
    say(f"{options.runs} run(s) of {', '.join(options.scenarios)} on {database}; budget {options.budget_s:.0f} s")
    session = Session(options).run()
    shown = {
        **{field.name: getattr(options, field.name) for field in dataclasses.fields(options)},
        "database_url": database,
        "topology": vars(options.topology),
        "output": str(options.output),
    }
    paths = report.write(session, options.quick, options.output, shown)
    print(paths["md"].read_text())
    say("wrote " + ", ".join(str(path) for path in paths.values()))
    return 0
