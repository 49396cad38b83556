"""``ledgerlearn market data ...``: the secure data market (``contracts/markets/data_market.vy``).

    ledgerlearn market data demo                                   # everything in one process, real MNIST
    ledgerlearn market data serve-owner --name t1 --owners 4       # the model owner, as its own process
    ledgerlearn market data join t1 --owner-index 0 -a 1           # a data owner, as its own process
    ledgerlearn market data status t1

``serve-owner`` and ``join`` run until the task closes; they coordinate only
through the chain (the embedded chain's data directory, shared between
processes, or ``--rpc-url``) and the blob store (``--blobs``, any fsspec URL;
``<data-dir>/blobs`` by default). Task names are recorded next to the other
markets in the deployments file.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ledgerlearn.cli.common import (
    AccountOpt,
    DataDirOpt,
    Env,
    FormatOpt,
    OutputFormat,
    PasswordEnvOpt,
    RpcUrlOpt,
    blob_store,
    cli_errors,
    console,
    info,
    print_json,
    print_kv,
    print_table,
    with_env,
    with_shared_env,
)
from ledgerlearn.errors import NotFoundError, ValidationError
from ledgerlearn.shared_models.status import format_eth, parse_amount, parse_duration

app = typer.Typer(
    name="data",
    help="Secure data market: a model owner pays data owners to improve the public part of its model.",
    no_args_is_help=True,
)

KIND = "data-market"
TaskArg = Annotated[str, typer.Argument(help="Task name (from `serve-owner --name`) or 0x address.")]
BlobsOpt = Annotated[Optional[str], typer.Option("--blobs", help="Blob store: an fsspec URL or a folder. [default: <data-dir>/blobs]")]
PollOpt = Annotated[float, typer.Option("--poll", help="Seconds between looks at the chain when there is nothing to do.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the data split and training.")]
OwnersOpt = Annotated[int, typer.Option("--owners", help="Number of data owners the task admits (and the MNIST split has).")]
PrivateOpt = Annotated[int, typer.Option("--private-samples", help="MNIST training images the model owner keeps private.")]




def _records(env: Env):
    from ledgerlearn.cli.market import MarketRecords

    return MarketRecords(env.deployments)


def _open_task(env: Env, ref: str):
    from ledgerlearn.chain.base import checksum
    from ledgerlearn.markets.data.client import DataMarketTask

    chain = env.chain
    found = _records(env).find(chain.chain_id, ref)
    if found is None and not ref.lower().startswith("0x"):
        raise NotFoundError(f"task: no data-market task named {ref!r} recorded for chain {chain.chain_id}; give a name from `serve-owner --name` or a 0x address")
    address = checksum(found[1]["address"] if found else ref)
    if not chain.code(address):
        raise NotFoundError(f"task: no contract at {address} on this chain (a different or reset chain?)")
    task = DataMarketTask(chain, address)
    try:
        task.params()
    except Exception as exc:  # noqa: BLE001 - any decoding failure means "not a task"
        raise NotFoundError(f"task: the contract at {address} is not a data-market task ({exc})") from None
    return task


def _print_round(report, fmt: OutputFormat) -> None:
    from ledgerlearn.markets.data.agents import RoundReport

    assert isinstance(report, RoundReport)
    if fmt == OutputFormat.json:
        print_json({"event": "round", **report.to_dict()}, line=True)
        return
    acc = "-" if report.accuracy is None else f"{100 * report.accuracy:.2f}%"
    gas = ", ".join(f"{op} {int(sum(v) / len(v)):,}" for op, v in sorted(report.gas.items()))
    console().print(
        f"round {report.round}: accuracy {acc}; groups kept {report.kept_groups} of valid {report.valid_groups};"
        f" paid {len(report.paid)}; filtered {len(report.rejected)}; forfeited {len(report.forfeited)};"
        f" chain time {1000 * report.processing_s:.0f} ms; mean gas: {gas or '-'}",
        highlight=False,
    )


def _loop(task, steps, poll: float, *, stop=lambda: False) -> None:
    """Step until the task ends (or ``stop()``), sleeping ``poll`` seconds whenever nothing was due."""
    from ledgerlearn.markets.data.agents import TERMINAL

    while not stop():
        # Read the phase before stepping: a task another process closes in
        # between still gets one more step (the withdrawal) here.
        ended = task.phase() in TERMINAL
        progressed = any([bool(step()) for step in steps])
        if not progressed:
            if ended:
                return
            time.sleep(poll)


# ------------------------------------------------------------------ demo
@app.command("demo")
@cli_errors
def demo(
    owners: OwnersOpt = 15,
    sign_flip: Annotated[int, typer.Option("--sign-flip", help="Data owners that submit -10 x their update.")] = 1,
    scaled_noise: Annotated[int, typer.Option("--scaled-noise", help="Data owners that submit noise 10 x the size of an update.")] = 1,
    label_flip: Annotated[int, typer.Option("--label-flip", help="Data owners that train on flipped labels.")] = 0,
    dropouts: Annotated[int, typer.Option("--dropouts", help="Data owners that post keys in --drop-round, then vanish.")] = 1,
    drop_round: Annotated[int, typer.Option("--drop-round", help="Round the dropouts vanish in.")] = 2,
    rounds: Annotated[int, typer.Option("--rounds", help="Rounds of secure aggregation.")] = 5,
    group_size: Annotated[int, typer.Option("--group-size", help="Data owners per secure-aggregation group.")] = 3,
    threshold: Annotated[int, typer.Option("--threshold", help="Shares needed to recover a dropped member.")] = 2,
    byzantine_groups: Annotated[int, typer.Option("--byzantine-groups", help="Groups Multi-Krum assumes malicious (0: plain mean).")] = 2,
    arch: Annotated[Optional[str], typer.Option("--arch", help="CNN: small or medium public part.")] = None,
    private_samples: PrivateOpt = 100,
    samples_per_owner: Annotated[int, typer.Option("--samples-per-owner", help="MNIST images per data owner (two classes each).")] = 2000,
    engine: Annotated[str, typer.Option("--engine", help="Embedded engine: fast (pyrevm) or exact (py-evm, exact gas).")] = "fast",
    seed: SeedOpt = 0,
    out: Annotated[Optional[Path], typer.Option("--out", help="Also write the full result as JSON here.")] = None,
    format: FormatOpt = OutputFormat.table,
):
    """Run a whole task on real MNIST in one process: a model owner, honest, malicious and dropping data owners."""
    import json

    from ledgerlearn.markets.data.model import DEFAULT_ARCH
    from ledgerlearn.markets.data.scenario import Scenario, run_scenario
    from ledgerlearn.simulation.runner import make_chain

    if engine not in ("fast", "exact"):
        raise typer.BadParameter(f"expected fast or exact, got {engine!r}", param_hint="'--engine'")
    attacks = {k: v for k, v in (("sign_flip", sign_flip), ("scaled_noise", scaled_noise), ("label_flip", label_flip)) if v}
    for opt, v in (("--sign-flip", sign_flip), ("--scaled-noise", scaled_noise), ("--label-flip", label_flip), ("--dropouts", dropouts)):
        if v < 0:
            raise typer.BadParameter(f"must not be negative, got {v}", param_hint=f"'{opt}'")
    scenario = Scenario(
        n_owners=owners, group_size=group_size, threshold=threshold, byzantine_groups=byzantine_groups, rounds=rounds,
        attacks=attacks, dropouts=dropouts, drop_round=drop_round, arch=arch or DEFAULT_ARCH,
        private_samples=private_samples, samples_per_owner=samples_per_owner, seed=seed,
    )
    chain = make_chain(engine)
    fmt = format
    if fmt != OutputFormat.json:
        info(f"data market on {chain.engine_name}: {owners} data owners, {rounds} rounds, groups of {group_size}; training on MNIST ...")
    result = run_scenario(scenario, chain, on_round=lambda r: _print_round(r, fmt))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result.to_dict(), indent=1, default=str))
    if fmt == OutputFormat.json:
        print_json(result.to_dict())
        return
    print_kv("Data market demo", [
        ("task", result.task), ("engine", result.engine),
        ("model owner accuracy", f"{100 * result.accuracy_before:.2f}% before -> "
                                 f"{100 * (result.accuracy_after or 0):.2f}% after {len(result.rounds)} rounds"),
        ("groups", "; ".join(f"{g}: " + ", ".join(f"{a[:8]} ({result.roles[a]})" for a in members) for g, members in enumerate(result.groups))),
        ("wall time", f"{result.wall_s:.1f} s"),
    ])
    note = "" if result.gas_exact else " (pyrevm: execution estimate; --engine exact for transaction gas)"
    print_table(f"Gas per operation{note}", ["operation", "count", "mean", "max"],
                [[op, g["count"], f"{g['mean']:,}", f"{g['max']:,}"] for op, g in result.gas.items()])
    print_table("Money (wei, net of gas)", ["account", "role", "net"],
                [[a, result.roles.get(a, "model owner"), f"{v:+,}"] for a, v in result.net_wei.items()])


# ----------------------------------------------------------- serve-owner
@app.command("serve-owner")
@cli_errors
def serve_owner(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Record the task under this name.")] = None,
    owners: OwnersOpt = 4,
    min_owners: Annotated[Optional[int], typer.Option("--min-owners", help="Fewer registrations than this: the task fails and refunds. [default: --group-size]")] = None,
    rounds: Annotated[int, typer.Option("--rounds", help="Rounds of secure aggregation.")] = 3,
    group_size: Annotated[int, typer.Option("--group-size", help="Data owners per group.")] = 2,
    threshold: Annotated[int, typer.Option("--threshold", help="Shares needed to recover a dropped member.")] = 2,
    byzantine_groups: Annotated[int, typer.Option("--byzantine-groups", help="Groups Multi-Krum assumes malicious (0: plain mean).")] = 0,
    reward: Annotated[str, typer.Option("--reward", help="Paid to each kept data owner per round (wei or e.g. 0.001eth).")] = "0.001eth",
    deposit: Annotated[str, typer.Option("--deposit", help="Each data owner's deposit.")] = "0.001eth",
    register_window: Annotated[str, typer.Option("--register-window", help="Registration stays open this long (or until full).")] = "10m",
    keys_window: Annotated[str, typer.Option("--keys-window", help="Time to post round keys.")] = "2m",
    submit_window: Annotated[str, typer.Option("--submit-window", help="Time to submit masked updates.")] = "5m",
    recover_window: Annotated[str, typer.Option("--recover-window", help="Time to recover dropped members.")] = "2m",
    arch: Annotated[str, typer.Option("--arch", help="CNN: small or medium public part.")] = "small",
    private_samples: PrivateOpt = 100,
    seed: SeedOpt = 0,
    blobs: BlobsOpt = None,
    poll: PollOpt = 0.5,
    address_file: Annotated[Optional[Path], typer.Option("--address-file", help="Write the task's address here once deployed (for scripts).")] = None,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Model owner: publish the public part, create a task with the reward escrowed, and serve it to the end."""
    from ledgerlearn.datasets import load
    from ledgerlearn.markets.data.agents import OwnerAgent
    from ledgerlearn.markets.data.blobstore import encode_public_part
    from ledgerlearn.markets.data.client import DataMarketTask, TaskParams
    from ledgerlearn.markets.data.model import DEFAULT_Q_CLIP, DEFAULT_Q_SCALE, OwnerModel, architecture, initial_public_part
    from ledgerlearn.markets.data.scenario import partition_mnist_private, single_torch_thread
    from ledgerlearn.store.deployments import validate_name

    if name is not None:
        validate_name(name)
    architecture(arch)
    reward_wei = parse_amount(reward, what="reward")
    deposit_wei = parse_amount(deposit, what="deposit")
    windows = [parse_duration(v, what=w) for v, w in ((register_window, "register-window"), (keys_window, "keys-window"),
                                                       (submit_window, "submit-window"), (recover_window, "recover-window"))]
    env = with_shared_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    store = blob_store(env, blobs)
    chain = env.chain
    mo = env.account()
    if name is not None and _records(env).find(chain.chain_id, name) is not None:
        raise ValidationError(f"name: a market named {name!r} is already recorded; pick another name")

    single_torch_thread()
    data = load("mnist")
    private = partition_mnist_private(len(data.y_train), private_samples, seed)
    model = OwnerModel(arch, data.x_train[private], data.y_train[private], seed=seed)
    model.fit_initial()  # the "before" model: the owner's own data only
    before = model.accuracy(data.x_test, data.y_test)
    initial = initial_public_part(arch, seed)  # what the market improves (see scenario.run_scenario)
    key = store.put(encode_public_part(arch, initial))
    params = TaskParams(
        public_part_uri=store.uri(key), public_part_hash=bytes.fromhex(key[2:]), n_params=initial.size,
        q_scale=DEFAULT_Q_SCALE, q_clip=DEFAULT_Q_CLIP, head_seed=seed + 1, max_dos=owners,
        min_dos=min_owners if min_owners is not None else group_size, reward=reward_wei, deposit=deposit_wei,
        rounds=rounds, group_size=group_size, threshold=threshold, byzantine_groups=byzantine_groups,
        register_s=windows[0], keys_s=windows[1], submit_s=windows[2], recover_s=windows[3],
    )
    if chain.balance(mo) < params.escrow:
        raise ValidationError(f"reward: the escrow {format_eth(params.escrow)} exceeds {mo}'s balance {format_eth(chain.balance(mo))}")
    task = DataMarketTask.create(chain, owner=mo, params=params)
    if name is not None:
        _records(env).add(chain.chain_id, name, {"kind": KIND, "address": task.address, "blobs": str(store.url)})
    if address_file is not None:
        address_file.write_text(task.address + "\n")
    if format == OutputFormat.json:
        print_json({"event": "created", "task": task.address, "name": name, "accuracy_before": before,
                    "params": params.to_dict()}, line=True)
    else:
        info(f"task {name or ''} {task.address}: escrow {format_eth(params.escrow)}, accuracy before {100 * before:.2f}%; waiting for {owners} data owners")

    def evaluate(public):
        model.fine_tune(public)
        return model.accuracy(data.x_test, data.y_test)

    owner = OwnerAgent(task, mo, blobs=store, evaluate=evaluate, log=info if format != OutputFormat.json else None,
                       on_round=lambda r: _print_round(r, format))
    _loop(task, [owner.step], poll)
    if format == OutputFormat.json:
        print_json({"event": "closed", "task": task.address, "phase": task.phase_name(),
                    "accuracy_before": before, "rounds": [r.to_dict() for r in owner.reports]}, line=True)
    else:
        info(f"task {task.address} ended: {task.phase_name()}")


# ------------------------------------------------------------------ join
@app.command("join")
@cli_errors
def join(
    ctx: typer.Context,
    task_ref: TaskArg,
    owner_index: Annotated[int, typer.Option("--owner-index", help="Which non-IID MNIST shard this data owner holds (0-based).")],
    owners: Annotated[Optional[int], typer.Option("--owners", help="Shards in the split. [default: the task's number of data owners]")] = None,
    samples: Annotated[int, typer.Option("--samples", help="MNIST images in this data owner's shard.")] = 2000,
    private_samples: PrivateOpt = 100,
    attack: Annotated[Optional[str], typer.Option("--attack", help="Behave maliciously: label_flip, sign_flip or scaled_noise.")] = None,
    drop_round: Annotated[Optional[int], typer.Option("--drop-round", help="Post keys in this round, then stop (a dropout).")] = None,
    keys: Annotated[Optional[Path], typer.Option("--keys", help="Key file (mode 0600). [default: <data-dir>/keys/<task>-<account>.json]")] = None,
    seed: SeedOpt = 0,
    blobs: BlobsOpt = None,
    poll: PollOpt = 0.5,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Data owner: register with a deposit, train on a private MNIST shard each round, submit masked updates, get paid."""
    from ledgerlearn.datasets import load
    from ledgerlearn.markets.data.agents import DataOwnerAgent, DataOwnerConfig
    from ledgerlearn.markets.data.model import ATTACKS
    from ledgerlearn.markets.data.scenario import partition_mnist, single_torch_thread

    if attack is not None and attack not in ATTACKS:
        raise typer.BadParameter(f"unknown attack {attack!r} (one of: {', '.join(ATTACKS)})", param_hint="'--attack'")
    env = with_shared_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    task = _open_task(env, task_ref)
    me = env.account()
    n = owners if owners is not None else task.params().max_dos
    if not 0 <= owner_index < n:
        raise typer.BadParameter(f"expected 0 .. {n - 1}, got {owner_index}", param_hint="'--owner-index'")
    if drop_round is not None and not 1 <= drop_round <= task.params().rounds:
        raise typer.BadParameter(f"expected 1 .. {task.params().rounds}, got {drop_round}", param_hint="'--drop-round'")
    single_torch_thread()
    data = load("mnist")
    _, shards = partition_mnist(data.y_train, n_owners=n, private_samples=private_samples, samples_per_owner=samples, seed=seed)
    idx = shards[owner_index]
    store = blob_store(env, blobs)
    keyfile = keys or env.data_dir / "keys" / f"{task.address.lower()}-{me.lower()}.json"
    log = info if format != OutputFormat.json else (lambda m: None)
    agent = DataOwnerAgent(
        task, me, data.x_train[idx], data.y_train[idx], blobs=store, keys_path=keyfile,
        config=DataOwnerConfig(attack=attack, drop_round=drop_round, seed=seed * 1000 + owner_index), log=log,
    )
    if task.call("slot_of", me) == 0 and me not in task.registrants():
        agent.register()
    _loop(task, [agent.step], poll, stop=lambda: agent.gone)
    earned = {"task": task.address, "account": me, "phase": task.phase_name(), "dropped_out": agent.gone,
              "paid": sum(task.paid(r).get(me, 0) for r in range(1, task.params().rounds + 1))}
    if format == OutputFormat.json:
        print_json(earned)
    else:
        info(f"{me}: {'dropped out; ' if agent.gone else ''}task {earned['phase']}, earned {format_eth(earned['paid'])}")


# ---------------------------------------------------------------- status
@app.command("status")
@cli_errors
def status(
    ctx: typer.Context,
    task_ref: TaskArg,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """Phase, round, groups and money of a task."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    task = _open_task(env, task_ref)
    p = task.params()
    groups = [task.group_members(g) for g in range(task.group_count())]
    results = task.results()
    doc = {
        "task": task.address, "phase": task.phase_name(), "round": task.current_round(), "rounds": p.rounds,
        "registered": task.call("registered_count"), "max_dos": p.max_dos, "groups": groups,
        "escrow_left": task.call("escrow_left"), "reward": p.reward, "deposit": p.deposit,
        "finalised": [{"round": r.round, "valid": r.groups("valid"), "kept": r.groups("kept")} for r in results],
    }
    if format == OutputFormat.json:
        print_json(doc)
        return
    print_kv(f"Data-market task {task.address}", [
        ("phase", f"{doc['phase']} (round {doc['round']} of {p.rounds})"),
        ("data owners", f"{doc['registered']} of {p.max_dos} registered, {len(groups)} groups of {p.group_size}"),
        ("money", f"reward {format_eth(p.reward)} per owner per round, deposit {format_eth(p.deposit)}, escrow left {format_eth(doc['escrow_left'])}"),
        ("public part", f"{p.n_params} parameters, {p.public_part_uri}"),
    ])
    if results:
        print_table("Rounds", ["round", "valid groups", "kept groups"],
                    [[r.round, str(r.groups("valid")), str(r.groups("kept"))] for r in results])
