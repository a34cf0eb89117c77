"""What the figures were measured on: the machine, its load, the software and the code's commit."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.procs import ROOT


def _first_line(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    output = (done.stdout or done.stderr).strip()
    return output.splitlines()[0] if output else None


def _cpu_model() -> str | None:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def _memory_mb() -> int | None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def describe() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_mb": _memory_mb(),
        "python": platform.python_version(),
        "load_average_at_start": load_average(),
        "commit": _first_line(["git", "-C", str(ROOT), "rev-parse", "HEAD"]),
        "software": {
            "litestar": _version("litestar"),
            "uvicorn": _version("uvicorn"),
            "dramatiq": _version("dramatiq"),
            "sqlalchemy": _version("sqlalchemy"),
            "redis-server": _first_line(["redis-server", "--version"]),
            "wrk": _first_line(["wrk", "--version"]),
        },
    }
