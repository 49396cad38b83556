"""Plots of a simulation record: a PNG (matplotlib) and a self-contained interactive HTML (plotly).

Both show each agent's balance as a percentage of its start balance (its
score under Points) and the model's accuracy on the hidden test set, against
virtual time in days, like the reference's figure. The HTML embeds plotly.js,
so it opens without a network.
"""

from __future__ import annotations

import os
from pathlib import Path

from ledgerlearn.simulation.record import SimulationRecord

DAY = 86_400
_COLOURS = {"honest": "#2a9d3a", "malicious": "#d62728", "mistaken": "#ff7f0e"}
_DASHES = {"honest": ":", "malicious": "--", "mistaken": "-."}


def _series(rec: SimulationRecord) -> tuple[bool, list[tuple[str, str, list[float], list[float]]], list[float], list[float]]:
    points = rec.scenario.get("incentive") == "points"
    out = []
    for a in rec.agents:
        pts = rec.balances.get(a.name, [])
        xs = [t / DAY for t, _ in pts]
        ys = [b for _, b in pts] if points else [100.0 * b / a.start for _, b in pts]
        out.append((a.name, a.behaviour, xs, ys))
    acc_t = [t / DAY for t, _ in rec.accuracies]
    acc = [100.0 * v for _, v in rec.accuracies]
    return points, out, acc_t, acc


def _title(rec: SimulationRecord) -> str:
    sc = rec.scenario
    return f"{sc.get('dataset')} · {sc.get('model')} · {sc.get('incentive', '').upper()}: balances and accuracy on the hidden test set"


def save_png(rec: SimulationRecord, path: str | os.PathLike) -> Path:
    """Write the figure as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, agents, acc_t, acc = _series(rec)
    fig, ax = plt.subplots(figsize=(10, 6), dpi=100)
    for name, behaviour, xs, ys in agents:
        ax.step(xs, ys, where="post", color=_COLOURS.get(behaviour, "#1f77b4"), linestyle=_DASHES.get(behaviour, "-"),
                linewidth=2, label=f"{name} ({'points' if points else 'balance'})")
    if points:
        ax.set_ylabel("points")
        ax2 = ax.twinx()
        ax2.plot(acc_t, acc, color="black", linewidth=2, label="accuracy")
        ax2.set_ylabel("accuracy (%)")
        ax2.legend(loc="lower right")
    else:
        ax.plot(acc_t, acc, color="black", linewidth=2, label="accuracy")
        ax.set_ylabel("percent (balance: of start)")
    ax.set_xlabel("time (days)")
    ax.set_title(_title(rec), fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def save_html(rec: SimulationRecord, path: str | os.PathLike) -> Path:
    """Write an interactive, self-contained HTML page (plotly.js embedded)."""
    import plotly.graph_objects as go

    points, agents, acc_t, acc = _series(rec)
    fig = go.Figure()
    for name, behaviour, xs, ys in agents:
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", line_shape="hv", name=f"{name} ({'points' if points else 'balance, % of start'})",
            line={"color": _COLOURS.get(behaviour), "dash": {"honest": "dot", "malicious": "dash", "mistaken": "dashdot"}.get(behaviour)},
            yaxis="y",
        ))
    fig.add_trace(go.Scatter(x=acc_t, y=acc, mode="lines+markers", name="accuracy (%)", line={"color": "black"},
                             yaxis="y2" if points else "y"))
    layout = {
        "title": _title(rec), "xaxis": {"title": "time (days)"},
        "yaxis": {"title": "points" if points else "percent"}, "template": "plotly_white",
        "legend": {"orientation": "h", "y": -0.2},
    }
    if points:
        layout["yaxis2"] = {"title": "accuracy (%)", "overlaying": "y", "side": "right"}
    fig.update_layout(**layout)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path


def save_plots(rec: SimulationRecord, stem: str | os.PathLike) -> tuple[Path, Path]:
    """``<stem>.png`` and ``<stem>.html``."""
    stem = Path(stem)
    return save_png(rec, stem.with_suffix(".png")), save_html(rec, stem.with_suffix(".html"))
