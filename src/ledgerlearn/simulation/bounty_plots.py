"""Plots of a bounty-market record: a PNG (matplotlib) and a self-contained interactive HTML (plotly).

Three panels: (a) each agent's balance in the market before the reward phase
and after each pass (lines coloured by kind), (b) each agent's final profit
and what is left of the provider's bounty (bars), (c) accuracy on the revealed
test set of the initial model, of the model trained on every contribution and
of the model trained on the honest contributions only. Colours and line styles
are the shared-model plots' (:mod:`ledgerlearn.simulation.plots`): honest
green, flippers red (its "malicious"), careless orange (its "mistaken"). The
HTML embeds plotly.js, so it opens without a network.
"""

from __future__ import annotations

import os
from pathlib import Path

from ledgerlearn.simulation.bounty import ETHER, BountyRecord
from ledgerlearn.simulation.plots import _COLOURS, _DASHES

#: bounty-market kinds drawn as the shared-model behaviours
_AS_BEHAVIOUR = {"honest": "honest", "flipper": "malicious", "careless": "mistaken"}
_PLOTLY_DASH = {":": "dot", "--": "dash", "-.": "dashdot"}
_PROVIDER_COLOUR = "#1f77b4"
#: agents of one kind share a colour; markers tell them apart
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_PLOTLY_MARKERS = ("circle", "square", "triangle-up", "diamond", "triangle-down", "cross", "x", "star")
_ACCURACY = (("initial", "initial model"), ("all_contributions", "all contributions"), ("honest_only", "honest only"))
_ACCURACY_COLOURS = ("#7f7f7f", "#9467bd", _COLOURS["honest"])


def _colour(kind: str) -> str:
    return _COLOURS.get(_AS_BEHAVIOUR.get(kind, ""), _PROVIDER_COLOUR)


def _dash(kind: str) -> str:
    return _DASHES.get(_AS_BEHAVIOUR.get(kind, ""), "-")


def _eth(wei: int) -> float:
    return wei / ETHER


def _title(rec: BountyRecord) -> str:
    sc = rec.scenario
    opts = [n for n in ("group_contributions", "reset_model", "allow_greater_deposit") if sc.get(n)]
    return (f"{sc.get('dataset')} · bounty market · {rec.contributions} contributions, {rec.n_scored} scored test samples"
            f"{' · ' + ', '.join(opts) if opts else ''} · seed {sc.get('seed')}")


def _profit_bars(rec: BountyRecord) -> tuple[list[str], list[float], list[str], list[str]]:
    """Agents' profits and the provider's result (bounty left - bounty: minus what the agents won together)."""
    names = [a.name for a in rec.agents] + ["provider"]
    values = [_eth(a.profit_wei) for a in rec.agents] + [_eth(rec.bounty_left_wei - rec.bounty_wei)]
    colours = [_colour(a.kind) for a in rec.agents] + [_PROVIDER_COLOUR]
    notes = [f"{a.profit_percent:+.1f}% of deposits" if a.profit_percent is not None else "no deposits" for a in rec.agents]
    notes.append(_provider_note(rec))
    return names, values, colours, notes


def _provider_note(rec: BountyRecord) -> str:
    return f"bounty left {_eth(rec.bounty_left_wei):.6g} of {_eth(rec.bounty_wei):.6g} ETH ({100.0 * rec.bounty_left_wei / rec.bounty_wei:.2f}%)"


def _accuracy_bars(rec: BountyRecord) -> tuple[list[str], list[float]]:
    return [label for _, label in _ACCURACY], [100.0 * rec.accuracy[k] for k, _ in _ACCURACY]


def save_png(rec: BountyRecord, path: str | os.PathLike) -> Path:
    """Write the three panels as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax_b, ax_p, ax_a) = plt.subplots(1, 3, figsize=(17, 5.5), dpi=100, gridspec_kw={"width_ratios": [1.4, 1.2, 0.7]})
    for i, a in enumerate(rec.agents):
        series = rec.balances.get(a.name, [])
        ax_b.plot(range(len(series)), [_eth(v) for v in series], color=_colour(a.kind), linestyle=_dash(a.kind),
                  marker=_MARKERS[i % len(_MARKERS)], markersize=4, linewidth=1.8, label=f"{a.name}")
    ax_b.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_b.set_xlabel("pass of the reward phase (0: deposits)")
    ax_b.set_ylabel("balance in the market (ETH)")
    ax_b.set_title("(a) balances after each pass", fontsize=10)
    ax_b.grid(True, alpha=0.3)
    ax_b.legend(loc="best", fontsize=8)

    names, values, colours, _ = _profit_bars(rec)
    ax_p.bar(range(len(names)), values, color=colours)
    ax_p.set_xlabel("provider: " + _provider_note(rec), fontsize=8)
    ax_p.axhline(0, color="black", linewidth=0.8)
    ax_p.set_xticks(range(len(names)))
    ax_p.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
    ax_p.set_ylabel("ETH")
    ax_p.set_title("(b) final profit; provider: bounty left - bounty", fontsize=10)
    ax_p.grid(True, axis="y", alpha=0.3)

    labels, acc = _accuracy_bars(rec)
    bars = ax_a.bar(range(len(labels)), acc, color=_ACCURACY_COLOURS)
    for b, v in zip(bars, acc):
        ax_a.text(b.get_x() + b.get_width() / 2, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    ax_a.set_xticks(range(len(labels)))
    ax_a.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    lo = min(acc)
    ax_a.set_ylim(max(0.0, lo - 10), min(100.0, max(acc) + 5))
    ax_a.set_ylabel(f"accuracy (%) on {rec.n_test} test samples")
    ax_a.set_title("(c) accuracy", fontsize=10)
    ax_a.grid(True, axis="y", alpha=0.3)

    fig.suptitle(_title(rec), fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def save_html(rec: BountyRecord, path: str | os.PathLike) -> Path:
    """Write an interactive, self-contained HTML page (plotly.js embedded, as the shared-model plots)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=3, column_widths=[0.42, 0.36, 0.22], subplot_titles=(
        "(a) balances after each pass (ETH)", "(b) final profit; provider: bounty left - bounty (ETH)", "(c) accuracy (%)"))
    for i, a in enumerate(rec.agents):
        series = rec.balances.get(a.name, [])
        fig.add_trace(go.Scatter(
            x=list(range(len(series))), y=[_eth(v) for v in series], mode="lines+markers", name=a.name, legendgroup=a.kind,
            line={"color": _colour(a.kind), "dash": _PLOTLY_DASH.get(_dash(a.kind))},
            marker={"symbol": _PLOTLY_MARKERS[i % len(_PLOTLY_MARKERS)]},
            hovertemplate=f"{a.name} ({a.kind})<br>pass %{{x}}<br>%{{y:.6f}} ETH<extra></extra>",
        ), row=1, col=1)
    names, values, colours, notes = _profit_bars(rec)
    fig.add_trace(go.Bar(x=names, y=values, marker_color=colours, text=notes, name="profit", showlegend=False,
                         hovertemplate="%{x}<br>%{y:.6f} ETH<br>%{text}<extra></extra>", textposition="none"), row=1, col=2)
    labels, acc = _accuracy_bars(rec)
    fig.add_trace(go.Bar(x=labels, y=acc, marker_color=list(_ACCURACY_COLOURS), name="accuracy", showlegend=False,
                         text=[f"{v:.1f}" for v in acc], textposition="outside"), row=1, col=3)
    fig.update_xaxes(title_text="pass (0: deposits)", dtick=1 if len(rec.passes) <= 20 else None, tickformat="d", row=1, col=1)
    fig.update_xaxes(title_text="provider: " + _provider_note(rec), title_font={"size": 11}, row=1, col=2)
    fig.update_yaxes(range=[max(0.0, min(acc) - 10), min(100.0, max(acc) + 5)], row=1, col=3)
    fig.update_layout(title=_title(rec), template="plotly_white", legend={"orientation": "h", "y": -0.25}, height=560)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path


def save_bounty_plots(rec: BountyRecord, stem: str | os.PathLike) -> tuple[Path, Path]:
    """``<stem>.png`` and ``<stem>.html``."""
    stem = Path(stem)
    return save_png(rec, stem.with_suffix(".png")), save_html(rec, stem.with_suffix(".html"))
