"""A benchmark's report: the Markdown table, the plot, and a self-contained HTML page.

The Markdown is the table the loop benchmarks have always printed (:func:`render`) with the
attempt tallies and the item-by-item comparison under it. The HTML page (:func:`html_report`)
holds the same tables with a 95% Wilson interval beside every accuracy, the run's settings, the
model's identity and the versions, and the plots as inline PNG (``data:`` URIs); it loads nothing
from anywhere, so it can be mailed or archived as one file.

Example:
    >>> low, high = wilson_interval(17, 40)
    >>> round(low, 3), round(high, 3)
    (0.285, 0.578)
    >>> wilson_interval(0, 0)
    (0.0, 1.0)

"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from neurosym.bench.rows import Row, variant_of, vote_at_k

__all__ = ["html_report", "plot", "plot_png", "render", "wilson_interval"]

_Z95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = _Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); ``(0, 1)`` for no trials.

    Chosen over the normal interval because benchmark accuracies sit near 0 or 1 on few items,
    where the normal interval leaves [0, 1] and has poor coverage.

    Example:
        >>> [round(x, 3) for x in wilson_interval(40, 40)]
        [0.912, 1.0]

    """
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # At 0 or all successes the bound is exactly 0 or 1; in floating point it can land a hair inside.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= trials else min(1.0, centre + half)
    return low, high


def render(table: Sequence[dict[str, Any]], recorded: int, wanted: int, overhead_ms: float, target_ms: float) -> str:
    """The markdown table and the headline figures.

    Example:
        >>> table = [{"dataset": "d", "strategy": "greedy", "items": 2, "accuracy": 0.5, "abstention": 0.5,
        ...           "answered_accuracy": 1.0, "samples": 1.0, "tokens": 10.0}]
        >>> print(render(table, 2, 2, 0.1, 1.0).splitlines()[-1])
        | d | greedy | 2 | 50.0% | 50.0% | 100.0% | 1.00 | 10 |

    """
    lines = [
        f"Items recorded: {recorded} of {wanted}. Per problem and strategy, replayed: the loop's own time "
        f"(excluding model, provers and the target's prompt building and parsing) median {overhead_ms:.2f} ms; "
        f"the target's time median {target_ms:.1f} ms.",
        "",
        "| data | strategy | items | accuracy | abstained | accuracy answered | samples/item | tokens/item |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in table:
        answered = "-" if r["answered_accuracy"] is None else f"{100 * r['answered_accuracy']:.1f}%"
        lines.append(
            f"| {r['dataset']} | {r['strategy']} | {r['items']} | {100 * r['accuracy']:.1f}% | "
            f"{100 * r['abstention']:.1f}% | {answered} | {r['samples']:.2f} | {r['tokens']:.0f} |"
        )
    return "\n".join(lines)


def _figure(rows: Sequence[Row], table: Sequence[dict[str, Any]], datasets: Sequence[str], title: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [*datasets, "all"] if len(datasets) > 1 else list(datasets)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(7.0, 4.4 * len(panels)), 4.2), sharey=True, squeeze=False)
    for ax, dataset in zip(axes[0], panels, strict=True):
        chosen = [r for r in rows if dataset in ("all", r.dataset)]
        ks = range(1, 6)
        voted = variant_of(chosen, "vote-5") or "vote-5"
        curve = [100 * vote_at_k(chosen, k, voted) for k in ks]
        ax.plot(
            list(ks), curve, "o-", color="grey", label="vote of first k" + ("" if voted == "vote-5" else f" ({voted})")
        )
        for entry in table:
            if entry["dataset"] == dataset:
                ax.scatter(entry["samples"], 100 * entry["accuracy"], s=60, label=entry["strategy"], zorder=3)
        ax.set_title(f"{dataset} ({sum(1 for r in chosen if r.strategy == 'greedy')} items)")
        ax.set_xlabel("model samples per problem (repairs count)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (%)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot(rows: Sequence[Row], table: Sequence[dict[str, Any]], datasets: Sequence[str], title: str, path: Path) -> None:
    """Accuracy against samples per problem: the vote@k curve and each strategy as a point, per dataset (a PNG)."""
    import matplotlib.pyplot as plt

    fig = _figure(rows, table, datasets, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_png(rows: Sequence[Row], table: Sequence[dict[str, Any]], datasets: Sequence[str], title: str) -> bytes:
    """The :func:`plot` as PNG bytes (for embedding)."""
    import matplotlib.pyplot as plt

    fig = _figure(rows, table, datasets, title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _interval_png(table: Sequence[dict[str, Any]], title: str) -> bytes:
    """Each strategy's accuracy with its 95% Wilson interval, one row of bars per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{t['dataset']} · {t['strategy']}" for t in table]
    values, lows, highs = [], [], []
    for t in table:
        correct = round(t["accuracy"] * t["items"])
        low, high = wilson_interval(correct, t["items"])
        values.append(100 * t["accuracy"])
        lows.append(max(0.0, 100 * (t["accuracy"] - low)))  # an accuracy rounded to the table's digits may
        highs.append(max(0.0, 100 * (high - t["accuracy"])))  # sit a hair outside its own interval
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(labels) + 1.2))
    positions = list(range(len(labels)))[::-1]
    ax.errorbar(values, positions, xerr=[lows, highs], fmt="o", color="#1f4e79", ecolor="#7a9cc6", capsize=3)
    ax.set_yticks(positions, labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy (%), 95% Wilson interval")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #1b1b1b; line-height: 1.4; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #c8c8c8; padding: 0.25em 0.6em; }
th { background: #eef2f6; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
span.ci { color: #666; font-size: 0.85em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
img { max-width: 100%; }
"""


def _cell(value: str, numeric: bool = True) -> str:
    return f'<td class="n">{value}</td>' if numeric else f"<td>{html.escape(value)}</td>"


def _percent_with_interval(successes: int, trials: int) -> str:
    if trials == 0:
        return "-"
    low, high = wilson_interval(successes, trials)
    return f'{100 * successes / trials:.1f}% <span class="ci">[{100 * low:.1f}, {100 * high:.1f}]</span>'


def _summary_table(rows: Sequence[Row], table: Sequence[dict[str, Any]]) -> str:
    head = (
        "<tr><th>data</th><th>strategy</th><th>items</th><th>accuracy [95% CI]</th><th>abstained</th>"
        "<th>accuracy answered [95% CI]</th><th>samples/item</th><th>tokens/item</th></tr>"
    )
    body = []
    for t in table:
        chosen = [r for r in rows if r.strategy == t["strategy"] and t["dataset"] in ("all", r.dataset)]
        answered = [r for r in chosen if r.answer is not None]
        body.append(
            "<tr>"
            + _cell(t["dataset"], False)
            + _cell(t["strategy"], False)
            + _cell(str(t["items"]))
            + _cell(_percent_with_interval(sum(r.correct for r in chosen), len(chosen)))
            + _cell(f"{100 * t['abstention']:.1f}%")
            + _cell(_percent_with_interval(sum(r.correct for r in answered), len(answered)))
            + _cell(f"{t['samples']:.2f}")
            + _cell(f"{t['tokens']:.0f}")
            + "</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _markdown_table_to_html(lines: Sequence[str]) -> str:
    """A Markdown table (``| a | b |`` lines, the second the alignment row) as an HTML table."""
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(_cell(c, i > 0) for i, c in enumerate(row)) + "</tr>" for row in cells[2:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _text_to_html(text: str) -> str:
    """Report text: Markdown tables become tables, bulleted lines a list, the rest paragraphs."""
    out: list[str] = []
    block: list[str] = []
    for paragraph in text.split("\n\n"):
        lines = [line for line in paragraph.splitlines() if line.strip()]
        if not lines:
            continue
        if all(line.lstrip().startswith("|") for line in lines) and len(lines) >= 2:
            out.append(_markdown_table_to_html(lines))
            continue
        block = [html.escape(lines[0])]
        items = [html.escape(line[2:]) for line in lines[1:] if line.startswith("- ")]
        rest = [html.escape(line) for line in lines[1:] if not line.startswith("- ")]
        out.append("<p>" + "<br>".join(block + rest) + "</p>")
        if items:
            out.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
    return "\n".join(out)


def _image(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def html_report(
    *,
    title: str,
    description: str,
    rows: Sequence[Row],
    table: Sequence[dict[str, Any]],
    datasets: Sequence[str],
    markdown: str,
    run: Mapping[str, Any],
    plots: bool = True,
) -> str:
    """The self-contained HTML page of a run: tables with 95% intervals, the plots inline, the run's settings.

    ``markdown`` is the Markdown report; its first table is replaced by one with intervals and the
    rest (tallies, comparisons, a benchmark's own tables) follows as HTML. ``run`` (settings, the
    model's identity, versions) is shown as JSON. Without matplotlib the page says the plots need it.

    Example:
        >>> rows = [Row("a", "d", "greedy", "1", "1", 1, 10, 0, 0, 0, 0, {}, ["1"])]
        >>> table = [{"dataset": "d", "strategy": "greedy", "items": 1, "accuracy": 1.0, "abstention": 0.0,
        ...           "answered_accuracy": 1.0, "samples": 1.0, "tokens": 10.0}]
        >>> page = html_report(title="t", description="a test", rows=rows, table=table, datasets=["d"],
        ...                    markdown=render(table, 1, 1, 0.1, 1.0), run={"model": "m"}, plots=False)
        >>> "100.0% <span" in page, "http" in page
        (True, False)

    """
    import json

    headline, _, rest = markdown.partition("\n\n")
    rest = rest.split("\n\n", 1)[1] if rest.lstrip().startswith("|") and "\n\n" in rest else ""
    figures = ""
    if plots and rows:
        try:
            figures = _image(plot_png(rows, table, datasets, title), "accuracy against samples per problem")
            figures += _image(_interval_png(table, "accuracy with 95% Wilson intervals"), "accuracy intervals")
        except ImportError:
            figures = "<p>(The plots need matplotlib: pip install 'neurosym-toolkit[bench]'.)</p>"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f"<p>{html.escape(description)}</p>",
            f"<p>{html.escape(headline)}</p>",
            "<h2>Accuracy</h2>",
            "<p>Accuracy counts an abstention as wrong; the brackets hold the 95% Wilson score interval.</p>",
            _summary_table(rows, table),
            figures,
            "<h2>Details</h2>",
            _text_to_html(rest),
            "<h2>Run</h2>",
            f"<pre>{html.escape(json.dumps(dict(run), indent=2, ensure_ascii=False, default=str))}</pre>",
            "</body></html>",
        ]
    )
