"""``ledgerlearn bench``: benchmarks that print tables.

The lead adds the commands here, e.g.::

    @app.command("gas")
    def gas(...): ...          # gas per operation vs the reference contracts

    @app.command("throughput")
    def throughput(...): ...   # transactions per second per backend

Each command should accept ``--format json|table`` (see
:mod:`ledgerlearn.cli.common`) and report gas as transaction gas, saying so
when a backend only estimates it.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="bench",
    help="Benchmarks: gas, throughput, simulations, markets, Caliper-method training-market load (tables or --format json).",
    no_args_is_help=True,
)


@app.callback()
def _bench() -> None:
    """Benchmarks: gas, throughput, simulations, markets, Caliper-method training-market load."""


# ---------------------------------------------------------------------------
# Benchmark commands go below (gas, throughput, ...).
# ---------------------------------------------------------------------------

from typing import Annotated, Optional  # noqa: E402

from ledgerlearn.cli.common import FormatOpt, OutputFormat, cli_errors, info, print_json, print_table  # noqa: E402


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


@app.command("gas")
@cli_errors
def gas(
    fmt: FormatOpt = OutputFormat.table,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Reference row keys to run (default: all).")] = None,
) -> None:
    """Transaction gas per operation next to the reference contracts (exact-gas embedded chain)."""
    from ledgerlearn.bench import gas as gasbench
    from ledgerlearn.bench.reference import GOAL_DEPLOY, GOAL_OPERATION

    rows = []
    for ref in gasbench.GAS_REFERENCE:
        if only and ref.key not in only:
            continue
        info(f"measuring {ref.title} ...")
        rows.append(gasbench.measure(ref))
    if fmt == OutputFormat.json:
        print_json({
            "engine": "py-evm, Prague rules (transaction gas: intrinsic + execution - capped refund, EIP-7623 floor)",
            "settings": "Deposit-Refund-Take, all waits 0, cost_weight 1e9 (as the reference gas script)",
            "goals": {"operation_max_ratio": GOAL_OPERATION, "deploy_max_ratio": GOAL_DEPLOY},
            "rows": [r.to_json() for r in rows],
        })
        return
    table = []
    for r in rows:
        for op in gasbench.OPERATIONS:
            goal = GOAL_DEPLOY if op == "deploy" else GOAL_OPERATION
            table.append([r.key, op, f"{r.ours[op]:,}", f"{r.reference[op]:,}", _pct(r.ratios[op]), _pct(goal),
                          "yes" if r.meets_goals[op] else "no"])
        nxt = r.ours["deploy_next"]
        table.append([r.key, "deploy (further model)", f"{nxt:,}", f"{r.reference['deploy']:,}", _pct(nxt / r.reference["deploy"]),
                      _pct(GOAL_DEPLOY), "yes" if nxt / r.reference["deploy"] <= GOAL_DEPLOY else "no"])
    print_table("Transaction gas: ledgerlearn vs reference (0xDeCA10B, Solidity 0.6.2)",
                ["model", "operation", "ours", "reference", "ours/ref", "goal", "meets"], table)


@app.command("throughput")
@cli_errors
def throughput(
    fmt: FormatOpt = OutputFormat.table,
    exact_n: Annotated[int, typer.Option("--exact-n", min=1, help="Contributions on the exact-gas embedded chain.")] = 500,
    fast_n: Annotated[int, typer.Option("--fast-n", min=1, help="Contributions on the fast embedded chain.")] = 5000,
    anvil_n: Annotated[int, typer.Option("--anvil-n", min=0, help="Contributions to anvil (0 skips anvil).")] = 10_000,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Transactions per JSON-RPC batch / evm_mine on anvil.")] = 500,
) -> None:
    """Contributions per second through the Python client, with latency percentiles."""
    from ledgerlearn.bench import throughput as tp
    from ledgerlearn.bench.reference import ANVIL_BATCH_UPDATES_PER_S, TITANOBOA_UPDATES_PER_S
    from ledgerlearn.chain.fast import FastLocalChain
    from ledgerlearn.chain.local import LocalChain

    results = []
    info(f"embedded chain, exact gas: {exact_n} contributions ...")
    results.append(tp.run_sequential(LocalChain(), "embedded (exact gas)", exact_n))
    info(f"embedded chain, fast mode: {fast_n} contributions ...")
    results.append(tp.run_sequential(FastLocalChain(), "embedded (fast; gas not transaction gas)", fast_n))
    if anvil_n:
        from ledgerlearn.chain.anvil import AnvilNode, find_anvil
        from ledgerlearn.chain.rpc import RpcChain

        if find_anvil() is None:
            info("anvil is not installed (ledgerlearn node install): skipping the anvil run")
        else:
            info(f"anvil, signed transactions in batches of {batch}: {anvil_n} contributions ...")
            with AnvilNode(no_mining=True) as node:
                results.append(tp.run_batched(RpcChain(node.url), "anvil (signed, batched)", anvil_n, batch=batch))
    if fmt == OutputFormat.json:
        print_json({
            "workload": "IMDB-sized sparse perceptron (1000 weights), Deposit-Refund-Take, random 20-token samples",
            "reference": {"titanoboa_updates_per_s": TITANOBOA_UPDATES_PER_S, "anvil_batch_updates_per_s": list(ANVIL_BATCH_UPDATES_PER_S)},
            "results": [r.to_json() for r in results],
        })
        return
    print_table("Contributions per second through the Python client",
                ["backend", "n", "batch", "per second", "avg ms", "p50 ms", "p95 ms", "p99 ms", "gas exact"],
                [[r.backend, r.contributions, r.batch_size, r.per_second, r.latency_ms["avg"], r.latency_ms["p50"],
                  r.latency_ms["p95"], r.latency_ms["p99"], "yes" if r.gas_exact else "NO (not transaction gas)"] for r in results])


@app.command("simulation")
@cli_errors
def simulation(
    fmt: FormatOpt = OutputFormat.table,
    dataset: Annotated[str, typer.Option("--dataset")] = "imdb",
    model: Annotated[str, typer.Option("--model", help="perceptron, naive-bayes or nearest-centroid.")] = "perceptron",
    engine: Annotated[str, typer.Option("--engine", help="fast (pyrevm) or exact (py-evm).")] = "fast",
    max_contributions: Annotated[Optional[int], typer.Option("--max-contributions", help="Default: the whole training set.")] = None,
    recheck: Annotated[int, typer.Option("--recheck", help="Seconds before an agent looks again at a contribution it could not claim (0: every wake-up).")] = 0,
) -> None:
    """Wall time of the full IMDB simulation (reference headline: every training sample, refunds, reports, takes)."""
    import time

    from ledgerlearn.simulation import Scenario, Simulation, features

    t0 = time.perf_counter()
    f = features(dataset, model)
    encode_s = time.perf_counter() - t0
    info(f"simulating {dataset} {model} on the {engine} engine ...")
    sc = Scenario(dataset=dataset, model=model, engine=engine, max_contributions=max_contributions, recheck_s=recheck)
    rec = Simulation(sc, features=f).run()
    row = {
        "dataset": dataset, "model": model, "engine": engine, "gas_exact": rec.gas_exact,
        "contributions": rec.contributions, "initial_model_samples": rec.n_init, "transactions": rec.transactions,
        "refused": rec.reverted, "virtual_days": round(rec.virtual_seconds / 86400, 1),
        "load_encode_seconds": round(encode_s, 2), "wall_seconds": round(rec.wall_seconds, 2),
        "loop_seconds": round(rec.loop_seconds, 2), "contributions_per_second": round(rec.contributions_per_second, 1),
        "transactions_per_second": round(rec.transactions_per_second, 1),
        "accuracy_start": rec.initial_accuracy, "accuracy_end": rec.final_accuracy,
        "accuracy_min": rec.accuracy_range[0], "accuracy_max": rec.accuracy_range[1],
        "balances_percent_of_start": {a.name: round(a.percent_of_start, 2) for a in rec.agents},
        "predictions_checked": rec.verified_predictions, "predictions_equal": rec.verified_agree,
        "goal_wall_seconds": 300,
    }
    if fmt == OutputFormat.json:
        print_json(row)
        return
    print_table(
        f"full {dataset} simulation ({model}, Deposit-Refund-Take, reference agents)",
        ["contributions", "transactions", "wall s (load+encode)", "contributions/s", "tx/s", "accuracy", "balances (% of start)", "goal"],
        [[f"{rec.contributions:,} (+{rec.n_init:,} initial)", f"{rec.transactions:,}", f"{rec.wall_seconds:.1f} (+{encode_s:.1f})",
          f"{rec.contributions_per_second:,.0f}", f"{rec.transactions_per_second:,.0f}",
          f"{rec.initial_accuracy:.2%} -> {rec.final_accuracy:.2%}",
          ", ".join(f"{a.name} {a.percent_of_start:.0f}%" for a in rec.agents), "< 300 s"]],
    )


@app.command("market")
@cli_errors
def market(
    fmt: FormatOpt = OutputFormat.table,
    sizes: Annotated[str, typer.Option("--sizes", help="Comma-separated test-set sizes (IMDB reviews).")] = "25,50,100,200",
    contributions: Annotated[int, typer.Option("--contributions", min=1)] = 12,
    pieces: Annotated[int, typer.Option("--pieces", min=2)] = 10,
    mode: Annotated[str, typer.Option("--mode", help="one-by-one (reference paper) or grouped-reset.")] = "one-by-one",
    engine: Annotated[str, typer.Option("--engine", help="exact (transaction gas) or fast (estimate).")] = "exact",
) -> None:
    """Prediction-market bounty: reward-phase gas per contribution as a function of the test-set size."""
    from ledgerlearn.bench.market import STEP_LIMIT, measure
    from ledgerlearn.errors import ValidationError

    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise ValidationError(f"--sizes: expected comma-separated integers, got {sizes!r}") from None
    if not size_list or min(size_list) < pieces:
        raise ValidationError(f"--sizes: every size must be at least --pieces ({pieces})")
    rows = measure(size_list, contributions=contributions, pieces=pieces, mode=mode, engine=engine, progress=info)
    if fmt == OutputFormat.json:
        print_json({"step_gas_limit": STEP_LIMIT, "rows": [r.to_json() for r in rows]})
        return
    print_table(
        f"bounty reward phase on IMDB ({mode}, {contributions} contributions, {engine} engine)",
        ["test set (scored)", "pieces", "scored features", "process calls", "passes", "gas / contribution", "max gas / call", "reveal gas", "gas exact"],
        [[f"{r.test_size} ({r.scored_samples})", r.pieces, f"{r.test_features:,}", r.process_calls, r.passes, f"{r.reward_gas_per_contribution:,}",
          f"{r.max_call_gas:,} (limit {STEP_LIMIT:,})", f"{r.reveal_gas:,}", "yes" if r.gas_exact else "NO (estimate)"] for r in rows],
    )


@app.command("market-data")
@cli_errors
def market_data(
    fmt: FormatOpt = OutputFormat.table,
    owners: Annotated[str, typer.Option("--owners", help="Comma-separated numbers of data owners for the gas table.")] = "6,12,20",
    archs: Annotated[str, typer.Option("--archs", help="Comma-separated public-part sizes for the gas table: small, medium.")] = "small,medium",
    engine: Annotated[str, typer.Option("--engine", help="Gas table engine: exact (transaction gas) or fast (estimate).")] = "exact",
    accuracy: Annotated[bool, typer.Option("--accuracy/--no-accuracy", help="Also run the MNIST accuracy and robustness tasks.")] = True,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Secure data market: MNIST accuracy before/after, 20% malicious with and without Multi-Krum, gas, chain time."""
    from ledgerlearn.bench.market_data import PAPER, measure
    from ledgerlearn.errors import ValidationError
    from ledgerlearn.markets.data.model import ARCHITECTURES

    try:
        owner_list = [int(s) for s in owners.split(",") if s.strip()]
    except ValueError:
        raise ValidationError(f"--owners: expected comma-separated integers, got {owners!r}") from None
    if not owner_list or min(owner_list) < 3:
        raise ValidationError("--owners: every value must be at least 3 (one group)")
    arch_list = [a.strip() for a in archs.split(",") if a.strip()]
    for a in arch_list:
        if a not in ARCHITECTURES:
            raise ValidationError(f"--archs: unknown public part {a!r} (known: {', '.join(ARCHITECTURES)})")
    if engine not in ("exact", "fast"):
        raise ValidationError(f"--engine: expected exact or fast, got {engine!r}")
    bench = measure(owners=owner_list, archs=arch_list, engine=engine, accuracy=accuracy, seed=seed, progress=info)
    if fmt == OutputFormat.json:
        print_json(bench.to_json())
        return
    if bench.accuracy:
        print_table(
            f"Model owner's MNIST accuracy (paper: {PAPER['accuracy_before']:.0%} -> {PAPER['accuracy_after']:.0%})",
            ["task", "owners (malicious)", "before", "after", "per round", "paid to malicious", "chain ms / round"],
            [[r.label, f"{r.n_owners} ({r.malicious})", f"{r.accuracy_before:.2%}",
              "-" if r.accuracy_after is None else f"{r.accuracy_after:.2%}",
              " ".join("-" if a is None else f"{a:.1%}" for a in r.accuracy_per_round), f"{r.malicious_paid_wei:,} wei",
              " ".join(f"{ms:.0f}" for ms in r.processing_ms_per_round)] for r in bench.accuracy],
        )
    def g(row, rnd, op):
        v = row.gas_per_round[rnd].get(op) if rnd < len(row.gas_per_round) else None
        return "-" if v is None else f"{v:,}"
    print_table(
        f"Gas per operation ({engine} engine{'' if engine == 'exact' else ': execution estimate'}); round 1 has one dropout recovered",
        ["owners", "groups (f)", "params", "register", "post_keys", "first submit", "submit (round 2)", "recover", "finalize r1", "finalize r2", f"chain ms / round, exact | fast (paper {PAPER['processing_ms']})"],
        [[r.n_owners, f"{r.groups} ({r.byzantine_groups})", f"{r.n_params:,}", f"{r.gas['register']['mean']:,}", g(r, 1, "post_keys"),
          f"{r.gas['submit']['max']:,}", g(r, 1, "submit"), g(r, 0, "recover"), g(r, 0, "finalize"), g(r, 1, "finalize"),
          " ".join(f"{ms:.0f}" for ms in r.processing_ms_per_round) + " | " + " ".join(f"{ms:.0f}" for ms in r.fast_processing_ms_per_round)]
         for r in bench.gas],
    )



def _csv(option: str, text: str, convert, what: str) -> list:
    from ledgerlearn.errors import ValidationError

    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValidationError(f"{option}: expected comma-separated {what}, got {text!r}")
    try:
        return [convert(t) for t in items]
    except ValueError:
        raise ValidationError(f"{option}: expected comma-separated {what}, got {text!r}") from None


@app.command("caliper")
@cli_errors
def caliper(
    fmt: FormatOpt = OutputFormat.table,
    rates: Annotated[str, typer.Option("--rates", help="Comma-separated target send rates (transactions per second).")] = "500,1000,1500",
    duration: Annotated[float, typer.Option("--duration", help="Seconds of sending per rate (one wave of rate*duration/15 trainings).")] = 18.0,
    backends: Annotated[str, typer.Option("--backends", help="Comma-separated: anvil, embedded (pyrevm), embedded-exact (py-evm).")] = "anvil,embedded",
    block_size: Annotated[int, typer.Option("--block-size", help="anvil: mine a block when this many transactions are pending ...")] = 500,
    block_timeout: Annotated[float, typer.Option("--block-timeout", help="... or this many seconds after the first pending one.")] = 1.0,
    tick: Annotated[float, typer.Option("--tick", help="Seconds of slots sent as one JSON-RPC batch (anvil) / enqueued together (embedded).")] = 0.005,
    datasets: Annotated[int, typer.Option("--datasets", help="Datasets (m=2 subsets x n=3 replicas, 6 cloud owners each).")] = 8,
    model_owners: Annotated[int, typer.Option("--model-owners", help="Model-owner pseudonyms shared by the trainings.")] = 64,
    commit_timeout: Annotated[float, typer.Option("--commit-timeout", help="Seconds after which an uncommitted transaction is a failure.")] = 30.0,
    sign_processes: Annotated[int, typer.Option("--sign-processes", help="Processes signing the anvil transactions ahead of the run.")] = 1,
) -> None:
    """Caliper-method throughput of the training market's 15-transaction flow (send rate, throughput, latency, trainings/s)."""
    from ledgerlearn.bench import caliper as cal
    from ledgerlearn.errors import ValidationError

    rate_list = _csv("--rates", rates, float, "positive numbers")
    if any(not r > 0 or r != r or r == float("inf") for r in rate_list):
        raise ValidationError(f"--rates: every rate must be a positive number, got {rates!r}")
    backend_list = _csv("--backends", backends, str, "backend names")
    for b in backend_list:
        if b not in cal.BACKENDS:
            raise ValidationError(f"--backends: unknown backend {b!r} (known: {', '.join(cal.BACKENDS)})")
    checks = [
        ("--duration", duration > 0, "must be positive"),
        ("--block-size", block_size >= 1, "must be at least 1"),
        ("--block-timeout", block_timeout > 0, "must be positive"),
        ("--tick", 0 < tick <= 0.1, "must be in (0, 0.1] seconds"),
        ("--datasets", datasets >= 1, "must be at least 1"),
        ("--model-owners", model_owners >= 1, "must be at least 1"),
        ("--commit-timeout", commit_timeout > 0, "must be positive"),
        ("--sign-processes", 1 <= sign_processes <= 16, "must be 1..16"),
    ]
    for opt, ok, msg in checks:
        if not ok:
            raise ValidationError(f"{opt}: {msg}")
    if "anvil" in backend_list:
        from ledgerlearn.chain.anvil import find_anvil

        if find_anvil() is None:
            info("anvil is not installed (ledgerlearn node install): skipping the anvil runs")
            backend_list = [b for b in backend_list if b != "anvil"]
    settings = cal.BenchSettings(duration_s=duration, block_size=block_size, block_timeout_s=block_timeout, tick_s=tick,
                                 datasets=datasets, model_owners=model_owners, commit_timeout_s=commit_timeout)
    bench = cal.run_bench(rate_list, backend_list, settings, sign_processes=sign_processes, progress=info)
    if fmt == OutputFormat.json:
        print_json(bench.to_json())
        return
    p = cal.PAPER
    rows = []
    for r in bench.results:
        lat = r.latency_ms
        rows.append([r.backend, f"{r.target_tps:g}", f"{r.send_rate_tps:,.1f}", f"{r.throughput_tps:,.1f}",
                     " / ".join(f"{lat.get(k, float('nan')):,.0f}" for k in ("avg", "p50", "p95", "max")),
                     f"{r.failed:,} of {r.transactions:,}", f"{r.trainings_recorded:,} of {r.trainings:,}", f"{r.trainings_per_s:,.1f}"])
    rows.append(["paper: Fabric + Caliper", "500-1500", "-", f"~{p['throughput_tps']:,} (falls sharply at 1,500)",
                 p["latency"], "-", "-", f"{p['trainings_per_s'][0]}-{p['trainings_per_s'][1]}"])
    rows.append(["paper: PostgreSQL alone", "-", "-", f"{p['postgres_tps'][0]:,}-{p['postgres_tps'][1]:,}", "-", "-", "-", "-"])
    print_table(f"Training market, {len(cal.STEPS)} transactions per training, open loop, {duration:g} s per rate (Caliper definitions)",
                ["backend", "target tps", "send rate", "throughput tps", "latency ms avg / p50 / p95 / max", "failed",
                 "trainings recorded", "trainings/s"], rows)
    anvil = [r for r in bench.results if r.backend == "anvil"]
    if anvil:
        print_table(f"anvil runs: block policy {block_size} pending or {block_timeout:g} s; signing ahead of the run",
                    ["target tps", "blocks", "txs/block avg (max)", "evm_mine ms avg (max)", "submit lag ms p95 (max)",
                     "signing s (us/tx)", "CPU s client / anvil"],
                    [[f"{r.target_tps:g}", r.blocks, f"{r.block_txs.get('avg', 0):.0f} ({r.block_txs.get('max', 0):.0f})",
                      f"{r.mine_ms.get('avg', 0):.0f} ({r.mine_ms.get('max', 0):.0f})",
                      f"{r.submit_lag_ms.get('p95', 0):.0f} ({r.submit_lag_ms.get('max', 0):.0f})",
                      f"{r.signing.seconds:.2f} ({r.signing.us_per_tx:.0f})" if r.signing else "-",
                      f"{r.cpu_s.get('client', '-')} / {r.cpu_s.get('node', '-')}"] for r in anvil])
    for r in bench.results:
        for note in r.notes:
            info(f"{r.backend} {r.target_tps:g} tps: {note}")


@app.command("dashboard")
@cli_errors
def dashboard(
    fmt: FormatOpt = OutputFormat.table,
    contributions: Annotated[int, typer.Option("--contributions", "-n", help="Contributions on the model.", min=1)] = 10_000,
    backend: Annotated[str, typer.Option("--backend", help="exact (py-evm: what `ledgerlearn dashboard` runs on) or fast (pyrevm).")] = "exact",
    repeats: Annotated[int, typer.Option("--repeats", help="Warm calls per endpoint.", min=1)] = 10,
) -> None:
    """Response times of the dashboard's list endpoints with many contributions on one model."""
    from ledgerlearn.bench import dashboard as dash
    from ledgerlearn.errors import ValidationError

    if backend not in ("exact", "fast"):
        raise ValidationError(f"--backend: expected exact or fast, got {backend!r}")
    info(f"filling a model with {contributions:,} contributions on the {backend} embedded chain ...")
    res = dash.run(contributions, backend=backend, repeats=repeats)
    if fmt == OutputFormat.json:
        print_json(res.to_dict())
        return
    info(f"filled in {res.fill_s} s; first request (reads and indexes every event): {res.first_request_ms} ms")
    print_table(
        f"dashboard API with {res.contributions:,} contributions ({res.backend} chain), ms",
        ["endpoint", "first", "warm median", "warm p95", "after a new contribution", "items / total", "KiB"],
        [[t.endpoint, t.first_ms, t.median_ms, t.p95_ms, t.after_new_ms,
          f"{t.items} / {t.total}" if t.total is not None else "", t.kbytes] for t in res.timings],
    )
