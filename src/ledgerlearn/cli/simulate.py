"""``ledgerlearn simulate``: agent-based simulations on the deployed contracts.

    ledgerlearn simulate run                           # the reference's IMDB headline
    ledgerlearn simulate run --model naive-bayes --max-contributions 3000
    ledgerlearn simulate single-pass --model perceptron --seeds 5
    ledgerlearn simulate plot runs/imdb-perceptron-drt.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ledgerlearn.cli.common import FormatOpt, OutputFormat, cli_errors, err_console, info, print_json, print_kv, print_table
from ledgerlearn.errors import NotFoundError, ValidationError
from ledgerlearn.shared_models.status import parse_duration

app = typer.Typer(name="simulate", help="Agent-based simulations on the real contracts, in virtual time.", no_args_is_help=True)

DatasetOpt = Annotated[str, typer.Option("--dataset", help="Data set (see `ledgerlearn data list`).")]
ModelOpt = Annotated[str, typer.Option("--model", help="perceptron, naive-bayes or nearest-centroid.")]
EngineOpt = Annotated[str, typer.Option("--engine", help="fast (pyrevm; gas not transaction gas) or exact (py-evm).")]


def _agents(spec: str):
    from ledgerlearn.simulation.agents import PRESETS, AgentSpec, preset

    if spec in PRESETS:
        return preset(spec)
    path = Path(spec)
    if not path.is_file():
        raise ValidationError(f"agents: {spec!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON file")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValidationError(f"agents: {spec!r} is not JSON ({exc})") from None
    if not isinstance(items, list):
        raise ValidationError("agents: the file must hold a list of agents")
    return [AgentSpec.from_dict(a) for a in items]


class _Progress:
    """A rich progress bar over contributions (stderr)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._p = None
        self._task = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                               console=err_console(), transient=False)
            self._p.start()
            self._task = self._p.add_task("contributions", total=None)
        return self

    def __call__(self, done: int, total: int, unclaimed: int) -> None:
        if self._p is not None:
            self._p.update(self._task, completed=done, total=total, description=f"contributions ({unclaimed} unclaimed)")

    def __exit__(self, *exc):
        if self._p is not None:
            self._p.stop()


def summary_rows(rec) -> list[list]:
    points = rec.scenario.get("incentive") == "points"
    rows = []
    for a in rec.agents:
        end = f"{a.end:,.0f} points" if points else f"{a.end:,.1f} ({a.percent_of_start:.1f}%)"
        rows.append([a.name, a.behaviour, f"{a.start:,.0f}" if not points else "0", end, a.contributions, a.refunds, a.reports, a.takes])
    return rows


def print_summary(rec, paths: dict[str, str] | None = None) -> None:
    sc = rec.scenario
    lo, hi = rec.accuracy_range
    title = f"{sc['dataset']} · {sc['model']} · {sc['incentive']}"
    print_table(title, ["agent", "behaviour", "start", "end (% of start)", "contributions", "refunds", "reports", "takes"], summary_rows(rec))
    items = [
        ("accuracy (test set)", f"{rec.initial_accuracy:.2%} -> {rec.final_accuracy:.2%} (min {lo:.2%}, max {hi:.2%} at intervals)"),
        ("contributions", f"{rec.contributions:,} (+{rec.n_init:,} in the initial model) over {rec.virtual_seconds / 86400:.1f} virtual days"),
        ("transactions", f"{rec.transactions:,} ({rec.reverted} refused by the contract)"),
        ("gas", f"{rec.gas_total:,}" + ("" if rec.gas_exact else " (fast engine: not transaction gas)")),
        ("mirror vs chain", f"{rec.mirror_checks - rec.mirror_mismatches}/{rec.mirror_checks} model reads equal; "
                            f"{rec.verified_agree:,}/{rec.verified_predictions:,} on-chain predictions equal the mirror's"),
        ("contract balance at end", f"{rec.contract_balance_wei} wei (deposits unclaimed: {rec.unclaimed_deposits_wei} wei)"),
        ("wall time", f"{rec.wall_seconds:.1f} s ({rec.contributions_per_second:,.0f} contributions/s, {rec.transactions_per_second:,.0f} tx/s in the loop)"),
    ]
    for k, v in (paths or {}).items():
        items.append((k, v))
    print_kv(None, items)


@app.command("run")
@cli_errors
def run_cmd(
    dataset: DatasetOpt = "imdb",
    model: ModelOpt = "perceptron",
    incentive: Annotated[str, typer.Option("--incentive", help="drt (Deposit, Refund and Take) or points.")] = "drt",
    agents: Annotated[str, typer.Option("--agents", help="Preset (reference, mixed, honest) or a JSON file of agents.")] = "reference",
    init_fraction: Annotated[float, typer.Option("--init-fraction", help="Share of the training set in the initial model.")] = 0.08,
    max_contributions: Annotated[Optional[int], typer.Option("--max-contributions", help="Stop contributing after this many (default: the whole training set).")] = None,
    refund_wait: Annotated[str, typer.Option("--refund-wait", help="e.g. 1d, 12h, 3600.")] = "1d",
    take_wait: Annotated[str, typer.Option("--take-wait", help="After this anyone takes what remains (e.g. 9d).")] = "9d",
    cost_weight: Annotated[float, typer.Option("--cost-weight", help="The reference's cost weight: deposit = 60 * w / sqrt(seconds since the last update) units.")] = 1.0,
    unit_wei: Annotated[int, typer.Option("--unit-wei", help="Wei per balance unit.")] = 10**15,
    eval_interval: Annotated[str, typer.Option("--eval-interval", help="Evaluate accuracy this often (virtual time).")] = "200000",
    eval_size: Annotated[Optional[int], typer.Option("--eval-size", help="Test samples per interval evaluation (default: all).")] = None,
    verify_size: Annotated[Optional[int], typer.Option("--verify-size", help="Test samples whose on-chain prediction is checked against the mirror at the end (default: all).")] = None,
    recheck: Annotated[str, typer.Option("--recheck", help="Look again at an unclaimable contribution only after this long (0: every wake-up, as the reference).")] = "0",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    engine: EngineOpt = "fast",
    out: Annotated[Path, typer.Option("--out", help="Folder for the JSON record and the plots.")] = Path("runs"),
    name: Annotated[Optional[str], typer.Option("--name", help="File stem (default: <dataset>-<model>-<incentive>).")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write the PNG and HTML plots.")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Run a simulation: agents contribute, refund and report on a deployed shared model."""
    from ledgerlearn.simulation import Scenario, Simulation, features, save_plots

    sc = Scenario(
        dataset=dataset, model=model, incentive=incentive, agents=_agents(agents), init_fraction=init_fraction,
        max_contributions=max_contributions, refund_wait_s=parse_duration(refund_wait, what="refund-wait"),
        any_claim_wait_s=parse_duration(take_wait, what="take-wait"), cost_weight_units=cost_weight, unit_wei=unit_wei,
        eval_interval_s=parse_duration(eval_interval, what="eval-interval"), eval_size=eval_size, verify_size=verify_size,
        recheck_s=parse_duration(recheck, what="recheck"), seed=seed, engine=engine,
    )
    info(f"loading and encoding {dataset} for {model} ...")
    f = features(dataset, model)
    with _Progress(progress and fmt != OutputFormat.json) as bar:
        rec = Simulation(sc, features=f, on_progress=bar).run()
    stem = out / (name or f"{dataset}-{model}-{incentive}")
    paths = {"record": str(rec.save(stem.with_suffix(".json")))}
    if plots:
        png, html = save_plots(rec, stem)
        paths.update({"plot (PNG)": str(png), "plot (HTML)": str(html)})
    if fmt == OutputFormat.json:
        print_json({"record": rec.to_dict(), "files": paths})
    else:
        print_summary(rec, paths)


@app.command("single-pass")
@cli_errors
def single_pass_cmd(
    dataset: DatasetOpt = "imdb",
    model: ModelOpt = "perceptron",
    seeds: Annotated[int, typer.Option("--seeds", help="Repeat with this many contribution orders (seed 0, 1, ...).")] = 1,
    engine: EngineOpt = "fast",
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Compare the contract's predict with the mirror on every test sample.")] = True,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Contribute the whole training set once to an empty model, then score it on the test set."""
    from ledgerlearn.simulation import features, single_pass

    if seeds < 1:
        raise ValidationError("seeds: at least 1")
    info(f"loading and encoding {dataset} for {model} ...")
    f = features(dataset, model)
    results = []
    for s in range(seeds):
        info(f"seed {s}: {len(f.y_train):,} contributions ...")
        results.append(single_pass(f, seed=s, engine=engine, verify=verify))
    if fmt == OutputFormat.json:
        print_json({"results": [r.to_dict() for r in results]})
        return
    print_table(
        f"{dataset} · {model}: one pass of contributions from an empty model",
        ["seed", "contributions", "test accuracy", "contract = mirror", "contribute s", "verify s"],
        [[r.seed, f"{r.contributions:,}", f"{r.accuracy:.4f}", f"{r.predictions_agree:,}/{r.predictions_checked:,}",
          f"{r.contribute_seconds:.1f}", f"{r.verify_seconds:.1f}"] for r in results],
    )


@app.command("plot")
@cli_errors
def plot_cmd(
    record: Annotated[Path, typer.Argument(help="A run's JSON record.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="File stem for <stem>.png and <stem>.html (default: next to the record).")] = None,
) -> None:
    """Redraw the PNG and HTML plots of a recorded run."""
    from ledgerlearn.simulation import SimulationRecord, save_plots

    rec = SimulationRecord.load(record)
    png, html = save_plots(rec, out or record.with_suffix(""))
    typer.echo(f"{png}\n{html}")


@app.command("show")
@cli_errors
def show_cmd(record: Annotated[Path, typer.Argument(help="A run's JSON record.")], fmt: FormatOpt = OutputFormat.table) -> None:
    """The summary table of a recorded run."""
    from ledgerlearn.simulation import SimulationRecord

    if not record.is_file():
        raise NotFoundError(f"record: no file at {str(record)!r}")
    rec = SimulationRecord.load(record)
    if fmt == OutputFormat.json:
        print_json(rec.to_dict())
    else:
        print_summary(rec)
