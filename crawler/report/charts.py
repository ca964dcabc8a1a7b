"""The crawl report's charts: matplotlib (Agg, no GUI) drawn to inline SVG, one small figure each.

Text stays text (``svg.fonttype = none``: the browser draws it in its own sans-serif font, and
labels and outlet names can be searched and tested); every figure has a salt of its own so that
the ids of two charts in one page never clash, and no date in its metadata, so the same archive
makes the same SVG. Nothing is fetched: no font, image or script outside the SVG.
Settings: none.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

SIZE = (6.4, 2.6)  # inches: small, two charts side by side fit no wider than a laptop screen


def _svg(fig: Figure, chart_id: str) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": chart_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # no XML prologue or DOCTYPE inside HTML
    return text.replace("<svg ", f'<svg id="{chart_id}" role="img" ', 1)


def _figure(title: str, ylabel: str) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=SIZE)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _label(bucket: str) -> str:
    """'2026-03-01T06' -> '03-01 06h'; '2026-03-01' -> '03-01'."""
    day, _, hour = bucket.partition("T")
    return f"{day[5:]} {hour}h" if hour else day[5:]


def stacked_bars(
    chart_id: str, title: str, ylabel: str, series: Mapping[str, Mapping[str, float]],
    buckets: Sequence[str],
) -> str:  # fmt: skip
    """One bar per time bucket, stacked by series (outlet, reason)."""
    fig, ax = _figure(title, ylabel)
    xs = list(range(len(buckets)))
    bottom = [0.0] * len(buckets)
    for name, values in series.items():
        heights = [float(values.get(b, 0)) for b in buckets]
        ax.bar(xs, heights, bottom=bottom, label=name, width=0.8)
        bottom = [a + b for a, b in zip(bottom, heights, strict=True)]
    _time_axis(ax, buckets)
    if series:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    else:
        ax.text(0.5, 0.5, "none", transform=ax.transAxes, ha="center", fontsize=9)
    return _svg(fig, chart_id)


def lines(
    chart_id: str, title: str, ylabel: str, series: Mapping[str, Mapping[str, float]],
    buckets: Sequence[str],
) -> str:  # fmt: skip
    """One line (with markers: a single bucket still shows) per series over the buckets."""
    fig, ax = _figure(title, ylabel)
    index = {b: i for i, b in enumerate(buckets)}
    for name, values in series.items():
        points = sorted((index[b], v) for b, v in values.items() if b in index)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3,
                label=name)  # fmt: skip
    _time_axis(ax, buckets)
    ax.set_ylim(bottom=0)
    if series:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return _svg(fig, chart_id)


def grouped_bars(
    chart_id: str, title: str, ylabel: str, groups: Sequence[str],
    series: Mapping[str, Sequence[float]], percent: bool = False,
) -> str:  # fmt: skip
    """Bars per group (an outlet, a run), one per series side by side."""
    fig, ax = _figure(title, ylabel)
    n = max(len(series), 1)
    width = 0.8 / n
    for k, (name, values) in enumerate(series.items()):
        ax.bar([i + (k - (n - 1) / 2) * width for i in range(len(groups))], list(values),
               width=width, label=name)  # fmt: skip
    ax.set_xticks(
        range(len(groups)), list(groups), fontsize=7, rotation=20 if len(groups) > 4 else 0
    )
    if percent:
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
        ax.set_ylim(0, max([0.05, *(v for vs in series.values() for v in vs)]) * 1.15)
    if series:
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    return _svg(fig, chart_id)


def _time_axis(ax: plt.Axes, buckets: Sequence[str]) -> None:
    step = max(1, len(buckets) // 12)  # at most a dozen labels
    ticks = list(range(0, len(buckets), step))
    ax.set_xticks(ticks, [_label(buckets[i]) for i in ticks], fontsize=7,
                  rotation=30 if len(ticks) > 4 else 0)  # fmt: skip
    ax.set_xlim(-0.6, max(len(buckets), 1) - 0.4)
