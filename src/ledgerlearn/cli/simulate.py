"""``ledgerlearn simulate``: agent-based simulations on the deployed contracts.

    ledgerlearn simulate run                           # the reference's IMDB headline
    ledgerlearn simulate run --model naive-bayes --max-contributions 3000
    ledgerlearn simulate single-pass --model perceptron --seeds 5
    ledgerlearn simulate plot runs/imdb-perceptron-drt.json
    ledgerlearn simulate market --out runs             # the prediction-market bounty on IMDB
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ledgerlearn.cli.common import FormatOpt, OutputFormat, cli_errors, err_console, info, print_json, print_kv, print_table
from ledgerlearn.errors import NotFoundError, ValidationError
from ledgerlearn.jsonfile import read_json
from ledgerlearn.shared_models.status import parse_duration

app = typer.Typer(name="simulate", help="Agent-based simulations on the real contracts, in virtual time.", no_args_is_help=True)

DatasetOpt = Annotated[str, typer.Option("--dataset", help="Data set (see `ledgerlearn data list`).")]
ModelOpt = Annotated[str, typer.Option("--model", help="perceptron, naive-bayes or nearest-centroid.")]
EngineOpt = Annotated[str, typer.Option("--engine", help="fast (pyrevm; gas not transaction gas) or exact (py-evm).")]


def _agents(spec: str):
    from ledgerlearn.simulation.agents import PRESETS, AgentSpec, preset

    if spec in PRESETS:
        return preset(spec)
    if not Path(spec).is_file():
        raise ValidationError(f"agents: {spec!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON file")
    return [AgentSpec.from_dict(a) for a in read_json(spec, "agents", list)]


class _RichProgress:
    """A rich progress bar on stderr, shown only when enabled; subclasses report into it."""

    first_task = "working"

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
            self._task = self._p.add_task(self.first_task, total=None)
        return self

    def __exit__(self, *exc):
        if self._p is not None:
            self._p.stop()


class _Progress(_RichProgress):
    """A rich progress bar over contributions (stderr)."""

    first_task = "contributions"

    def __call__(self, done: int, total: int, unclaimed: int) -> None:
        if self._p is not None:
            self._p.update(self._task, completed=done, total=total, description=f"contributions ({unclaimed} unclaimed)")


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


# --------------------------------------------------------- bounty market
def _agents_file(path: Path):
    from ledgerlearn.simulation.bounty import BountyAgentSpec

    return [BountyAgentSpec.from_dict(a) for a in read_json(path, "agents", list)]


class _PhaseProgress(_RichProgress):
    """A rich progress bar over the phases of a bounty-market run (stderr)."""

    first_task = "starting"

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        if self._p is not None:
            self._p.update(self._task, description=phase, completed=done, total=total)


def market_summary_rows(rec) -> list[list]:
    from ledgerlearn.shared_models.status import format_eth

    rows = []
    for kind, k in rec.by_kind().items():
        pct = "-" if k["profit_percent"] is None else f"{k['profit_percent']:+.2f}%"
        rows.append([kind, k["agents"], k["contributions"], format_eth(k["deposited_wei"]), format_eth(k["withdrawn_wei"]),
                     format_eth(k["final_balance_wei"]), format_eth(k["profit_wei"]), pct])
    return rows


def print_market_summary(rec, paths: dict[str, str] | None = None) -> None:
    from ledgerlearn.shared_models.status import format_eth

    sc = rec.scenario
    opts = [n for n in ("group_contributions", "reset_model", "allow_greater_deposit") if sc.get(n)]
    title = f"{sc['dataset']} · bounty market · {', '.join(opts) or 'default options'} · seed {sc['seed']}"
    print_table(title, ["kind", "agents", "contributions", "deposits", "withdrawn", "final balance", "profit", "profit (% of deposits)"],
                market_summary_rows(rec))
    acc = rec.accuracy
    dropped = sum(len(p["dropped"]) for p in rec.passes)
    process = rec.gas_totals.get("process", {"count": 0, "sum": 0, "max": 0})
    gas_note = "" if rec.gas_exact else " (fast engine: an execution estimate, not transaction gas)"
    items = [
        ("provider", f"bounty {format_eth(rec.bounty_wei)}, left {format_eth(rec.bounty_left_wei)} "
                     f"({100.0 * rec.bounty_left_wei / rec.bounty_wei:.2f}%)"),
        ("accuracy (test set)", f"initial {acc['initial']:.2%}, all contributions {acc['all_contributions']:.2%}, "
                                f"honest only {acc['honest_only']:.2%} ({acc['test_samples']} samples; {rec.n_scored} scored)"),
        ("reward phase", f"{len(rec.passes)} passes, {rec.rounds_total - rec.rounds_left:,} of {rec.rounds_total:,} rounds applied, "
                         f"{dropped} of {rec.participants} participants dropped"),
        ("process calls", f"{process['count']:,}, gas max {process['max']:,}, total {process['sum']:,}{gas_note}"),
        ("zero sum / mirror", f"{sum(1 for _, g in rec.zero_sum_checks if g == 0)}/{len(rec.zero_sum_checks)} checks balanced; "
                              f"final balances {'equal' if rec.mirror_agrees else 'differ from'} the mirror's to the wei"),
        ("wall time", f"{rec.wall['total']:.1f} s (reward phase {rec.wall['reward']:.1f} s, {rec.engine} engine)"),
    ]
    for k, v in (paths or {}).items():
        items.append((k, v))
    print_kv(None, items)


@app.command("market")
@cli_errors
def market_cmd(
    dataset: DatasetOpt = "imdb",
    init_size: Annotated[int, typer.Option("--init-size", help="Training reviews the provider's initial perceptron is fitted on.")] = 50,
    test_size: Annotated[int, typer.Option("--test-size", help="Test reviews the provider commits.")] = 300,
    test_pieces: Annotated[int, typer.Option("--test-pieces", help="Pieces the test set is committed in (about 10 reviews each fit).")] = 30,
    bounty: Annotated[str, typer.Option("--bounty", help="The provider's bounty: wei, or e.g. 1ether, 0.5eth.")] = "1ether",
    min_stake: Annotated[str, typer.Option("--min-stake", help="Deposit per contribution: wei, or e.g. 0.001eth.")] = "0.001eth",
    group_contributions: Annotated[bool, typer.Option("--group-contributions/--no-group-contributions", help="Score each address's consecutive contributions as one.")] = True,
    reset_model: Annotated[bool, typer.Option("--reset-model/--no-reset-model", help="Replay the remaining contributions on the initial model in every pass.")] = True,
    allow_greater_deposit: Annotated[bool, typer.Option("--allow-greater-deposit/--no-allow-greater-deposit", help="Deposits above min_stake count as stakes.")] = False,
    deposit_multiple: Annotated[int, typer.Option("--deposit-multiple", help="Agents deposit this many min stakes (above 1 needs --allow-greater-deposit).")] = 1,
    honest: Annotated[int, typer.Option("--honest", help="Honest agents.")] = 4,
    flippers: Annotated[int, typer.Option("--flippers", help="Agents that flip every label.")] = 2,
    careless: Annotated[int, typer.Option("--careless", help="Agents that flip labels at random.")] = 1,
    careless_prob: Annotated[float, typer.Option("--careless-prob", help="Probability that a careless agent flips a label.")] = 0.5,
    contributions: Annotated[int, typer.Option("--contributions", help="Contributions per agent.")] = 40,
    start_balance: Annotated[str, typer.Option("--start-balance", help="Each agent's budget: wei, or e.g. 0.1eth.")] = "0.1eth",
    agents_file: Annotated[Optional[Path], typer.Option("--agents-file", help="JSON list of agents (name, kind, contributions, flip_prob, start_balance_wei, deposit_wei); replaces the counts.")] = None,
    arrival_mean: Annotated[str, typer.Option("--arrival-mean", help="Mean time between arrivals (e.g. 10m).")] = "10m",
    batch_window: Annotated[str, typer.Option("--batch-window", help="Arrivals in one window are sent together (e.g. 1h).")] = "1h",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    engine: EngineOpt = "fast",
    out: Annotated[Path, typer.Option("--out", help="Folder for the JSON record and the plots.")] = Path("runs"),
    name: Annotated[Optional[str], typer.Option("--name", help="File stem (default: <dataset>-bounty-market).")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write the PNG and HTML plots.")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Simulate the prediction-market bounty: contributions, reveal, reward phase, withdrawals."""
    from ledgerlearn.shared_models.status import parse_amount
    from ledgerlearn.simulation.bounty import BountyScenario, BountySimulation
    from ledgerlearn.simulation.bounty_plots import save_bounty_plots

    sc = BountyScenario(
        dataset=dataset, init_size=init_size, test_size=test_size, test_pieces=test_pieces,
        bounty_wei=parse_amount(bounty, what="bounty"), min_stake_wei=parse_amount(min_stake, what="min-stake"),
        group_contributions=group_contributions, reset_model=reset_model, allow_greater_deposit=allow_greater_deposit,
        deposit_multiple=deposit_multiple, honest=honest, flippers=flippers, careless=careless, careless_flip_prob=careless_prob,
        contributions_per_agent=contributions, start_balance_wei=parse_amount(start_balance, what="start-balance"),
        agents=_agents_file(agents_file) if agents_file is not None else None,
        arrival_mean_s=parse_duration(arrival_mean, what="arrival-mean"), batch_window_s=parse_duration(batch_window, what="batch-window"),
        seed=seed, engine=engine,
    )
    with _PhaseProgress(progress and fmt != OutputFormat.json) as bar:
        rec = BountySimulation(sc, on_progress=bar).run()
    stem = out / (name or f"{dataset}-bounty-market")
    paths = {"record": str(rec.save(stem.with_suffix(".json")))}
    if plots:
        png, html = save_bounty_plots(rec, stem)
        paths.update({"plot (PNG)": str(png), "plot (HTML)": str(html)})
    if fmt == OutputFormat.json:
        print_json({"record": rec.to_dict(), "files": paths})
    else:
        print_market_summary(rec, paths)
