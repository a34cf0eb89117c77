"""The PNG: one bar per target row, its margin on a log scale, 1.0 (the target) marked.

matplotlib is the optional ``bench`` dependency group; without it no chart is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.targets import Row

SHOWN_RANGE = (0.01, 100.0)


def draw(rows: Sequence[Row], path: Path, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib is not installed (pip install -e '.[bench]'): no chart drawn", flush=True)
        return None
    low, high = SHOWN_RANGE
    labels = [f"{row.target} · {row.scenario}" for row in rows]
    ends = [min(high, max(low, row.margin)) if row.margin is not None else low for row in rows]
    colours = ["#2e7d32" if row.passed else "#c62828" for row in rows]
    figure, axes = plt.subplots(figsize=(11, 0.42 * len(rows) + 1.6))
    positions = list(range(len(rows)))[::-1]
    axes.barh(positions, [end - low for end in ends], left=low, color=colours)
    axes.set_xscale("log")
    axes.set_xlim(low, high)
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_yticks(positions, labels, fontsize=8)
    for position, row, end in zip(positions, rows, ends, strict=True):
        if row.margin is None:
            axes.text(low * 1.15, position, f"n/a: {row.note or 'not measured'}", va="center", fontsize=7)
            continue
        ratio = "" if row.ratio is None else f" = {row.ratio:.3g} x floor"
        text = f"{row.measured}{ratio}; target {row.requirement}"
        inside = end > 3
        x = low * 1.15 if inside else end * 1.15
        style = {"color": "white"} if inside else {"bbox": {"facecolor": "white", "edgecolor": "none", "pad": 1}}
        axes.text(x, position, text, va="center", fontsize=7, **style)
    axes.set_xlabel("measured ÷ target (1 = target met, right is better; log scale)")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    scratch = path.with_suffix(".png.tmp")
    figure.savefig(scratch, dpi=110, format="png")
    plt.close(figure)
    scratch.replace(path)
    return path
