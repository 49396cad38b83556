"""``ledgerlearn market training ...``: the ownership-preserving training market.

    ledgerlearn market training demo                       # every role in one process, real MNIST
    ledgerlearn market training demo --mode ckks           # the model encrypted (CKKS) at the cloud owners
    ledgerlearn market training deploy --name tm           # one market contract for many datasets and models
    ledgerlearn market training serve-data-owner tm --dataset mnist-a --subsets 2 --replicas 3
    ledgerlearn market training serve-cloud-owner tm --dataset mnist-a --index 0      # one per instance
    ledgerlearn market training serve-model-owner tm --dataset mnist-a --model m1 --rounds 2
    ledgerlearn market training status tm

The ``serve-*`` commands are separate processes that find each other only
through the chain (the embedded chain's data directory, or ``--rpc-url``)
and the blob store (``--blobs``, any fsspec URL). Each member's pseudonyms
derive from its own master secret (``--secret-file``, created with mode
0600); ``--account`` is only the faucet that pays the pseudonyms' gas.
"""

from __future__ import annotations

import os
import secrets
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
from ledgerlearn.shared_models.status import format_eth, parse_amount

app = typer.Typer(
    name="training",
    help="Ownership-preserving training market: data owners, cloud owners and model owners under pseudonyms.",
    no_args_is_help=True,
)

KIND = "training-market"
MarketArg = Annotated[str, typer.Argument(help="Market name (from `deploy --name`) or 0x address.")]
BlobsOpt = Annotated[Optional[str], typer.Option("--blobs", help="Blob store: an fsspec URL or a folder. [default: <data-dir>/blobs]")]
PollOpt = Annotated[float, typer.Option("--poll", help="Seconds between looks at the chain when there is nothing to do.")]
SecretOpt = Annotated[Path, typer.Option("--secret-file", help="This member's master secret (32 bytes hex; created, mode 0600, if missing).")]
DatasetOpt = Annotated[str, typer.Option("--dataset", help="Dataset name; its on-chain id is keccak256 of it.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the data split.")]
TrainOpt = Annotated[int, typer.Option("--train-samples", help="MNIST training images the data owner splits.")]


def _check(cond: bool, option: str, msg: str) -> None:
    if not cond:
        raise typer.BadParameter(msg, param_hint=f"'{option}'")


# ------------------------------------------------------------------ demo
@app.command("demo")
@cli_errors
def demo(
    subsets: Annotated[int, typer.Option("--subsets", "-m", help="Skewed subsets the data owner splits MNIST into.")] = 4,
    replicas: Annotated[int, typer.Option("--replicas", "-n", help="Cloud owners holding each subset.")] = 3,
    rounds: Annotated[int, typer.Option("--rounds", help="Federated rounds.")] = 4,
    picks: Annotated[int, typer.Option("--picks", help="Subsets the contract draws per round.")] = 2,
    fraud: Annotated[str, typer.Option("--fraud", help="The fraudulent cloud owner: dummy-model or copy-hash (honest: none).")] = "dummy-model",
    fraud_index: Annotated[int, typer.Option("--fraud-index", help="Which instance is fraudulent.")] = 1,
    mode: Annotated[str, typer.Option("--mode", help="plain, ckks (model encrypted at the cloud owners), or both.")] = "plain",
    steps: Annotated[int, typer.Option("--steps", help="Local gradient steps per job.")] = 100,
    train_samples: TrainOpt = 12000,
    test_samples: Annotated[int, typer.Option("--test-samples", help="MNIST test images the model owner evaluates on.")] = 2000,
    engine: Annotated[str, typer.Option("--engine", help="Embedded engine: fast (pyrevm) or exact (py-evm, exact gas).")] = "fast",
    seed: SeedOpt = 0,
    format: FormatOpt = OutputFormat.table,
):
    """Run the whole market on real MNIST in one process: evidence, detected fraud, payments, accuracy per round."""
    from ledgerlearn.markets.training.demo import DemoConfig, load_mnist, run_demo

    _check(engine in ("fast", "exact"), "--engine", f"expected fast or exact, got {engine!r}")
    _check(mode in ("plain", "ckks", "both"), "--mode", f"expected plain, ckks or both, got {mode!r}")
    _check(fraud in ("none", "dummy-model", "copy-hash"), "--fraud", f"expected none, dummy-model or copy-hash, got {fraud!r}")
    _check(1000 <= train_samples <= 60000, "--train-samples", f"expected 1000..60000, got {train_samples}")
    _check(100 <= test_samples <= 10000, "--test-samples", f"expected 100..10000, got {test_samples}")
    _check(steps >= 1, "--steps", f"must be positive, got {steps}")
    modes = ["plain", "ckks"] if mode == "both" else [mode]
    try:
        configs = [DemoConfig(subsets=subsets, replicas=replicas, rounds=rounds, picks=picks,
                              fraud="honest" if fraud == "none" else fraud, fraud_index=fraud_index, mode=md, steps=steps,
                              train_samples=train_samples, test_samples=test_samples, engine=engine, seed=seed)
                   for md in modes]
    except ValidationError as exc:
        raise ValidationError(f"--{str(exc).replace(' index', '-index')}") from None
    data = load_mnist(train_samples, test_samples)
    results = []
    for cfg in configs:
        if format != OutputFormat.json:
            info(f"training market ({cfg.mode}): {subsets} subsets x {replicas} replicas, {rounds} rounds of {picks}; instance {fraud_index} is {cfg.fraud} ...")
        results.append(run_demo(cfg, data=data))
    if format == OutputFormat.json:
        print_json({"runs": [_result_json(r) for r in results]})
        return
    for r in results:
        _print_result(r)


def _hex(b: bytes | None) -> str:
    return "-" if b is None else "0x" + bytes(b).hex()


def _result_json(r) -> dict:
    from dataclasses import asdict

    return {
        "config": asdict(r.config), "seconds": r.seconds, "accuracy_before": r.accuracy_before,
        "accuracy": [x.accuracy for x in r.reports], "plaintext_accuracy": r.plaintext_accuracy or None,
        "fraudulent": r.fraudulent, "detected": [{"round": a, "instance": i, "verdict": v} for a, i, v in r.detected()],
        "paid": r.paid, "escrow_refund": r.escrow_refund,
        "rounds": [{"round": x.round, "subsets": x.subsets, "seed": _hex(x.seed), "model_hash": _hex(x.model_hash),
                    "consensus": {str(s): _hex(d) for s, d in x.consensus.items()}, "accuracy": x.accuracy,
                    "jobs": [{"instance": j.index, "subset": j.subset, "pseudonym": j.co, "matches_commitment": j.matches_commitment,
                              "digest": _hex(j.result_digest), "verdict": j.verdict, "paid": j.paid} for j in x.jobs],
                    "gas": {op: sum(v) // len(v) for op, v in x.gas.items()}} for x in r.reports],
    }


def _print_result(r) -> None:
    cfg = r.config
    rows = []
    for x in r.reports:
        for j in x.jobs:
            rows.append([x.round, f"{j.subset}", j.index, j.co[:10] + "...", "-" if j.result_digest is None else _hex(j.result_digest)[:12] + "...",
                         {True: "yes", False: "NO", None: "-"}[j.matches_commitment],
                         _hex(x.consensus.get(j.subset))[:12] + "...", j.verdict, format_eth(j.paid)])
    print_table(f"Evidence on chain ({cfg.mode} mode): every job of every round", [
        "round", "subset", "instance", "cloud owner (pseudonym)", "model digest", "commitment ok",
        "consensus digest", "verdict", "paid"], rows)
    acc = [["before", "-", f"{100 * r.accuracy_before:.2f}%", "-"]]
    for i, x in enumerate(r.reports):
        plain = f"{100 * r.plaintext_accuracy[i]:.2f}%" if r.plaintext_accuracy else "-"
        acc.append([x.round, str(x.subsets), f"{100 * x.accuracy:.2f}%", plain])
    print_table("Model owner's MNIST test accuracy per round (subsets drawn by the contract)",
                ["round", "subsets", f"accuracy ({cfg.mode})", "same rounds in plaintext"], acc)
    detected = r.detected()
    print_kv("Outcome", [
        ("fraudulent cloud owner", f"instance {cfg.fraud_index} ({cfg.fraud}) {r.fraudulent}"),
        ("detected", ", ".join(f"round {a} instance {i}: {v}" for a, i, v in detected) or "none"),
        ("paid (withdrawn)", ", ".join(f"{a[:10]}... {format_eth(v)}" for a, v in r.paid.items())),
        ("paid to the fraudulent", format_eth(r.paid.get(r.fraudulent, 0))),
        ("refund to the model owner", format_eth(r.escrow_refund)),
        ("wall time", f"{r.seconds:.1f} s"),
    ])


# ------------------------------------------------------------------ processes

def _records(env: Env):
    from ledgerlearn.cli.market import MarketRecords

    return MarketRecords(env.deployments)



def _open_market(env: Env, ref: str):
    from ledgerlearn.chain.base import checksum
    from ledgerlearn.markets.training.client import TrainingMarket

    found = _records(env).find(env.chain.chain_id, ref)
    if found is None and not ref.lower().startswith("0x"):
        raise NotFoundError(f"market: no training market named {ref!r} recorded for chain {env.chain.chain_id}; give a name from `deploy --name` or a 0x address")
    if found is not None and found[1].get("kind") != KIND:
        raise NotFoundError(f"market: {ref!r} is a {found[1].get('kind')}, not a training market")
    address = checksum(found[1]["address"] if found else ref)
    if not env.chain.code(address):
        raise NotFoundError(f"market: no contract at {address} on this chain (a different or reset chain?)")
    return TrainingMarket(env.chain, address)


def _pseudonyms(path: Path):
    from ledgerlearn.markets.training.transfer import Pseudonyms

    if path.exists():
        try:
            return Pseudonyms(bytes.fromhex(path.read_text().strip()))
        except ValueError:
            raise ValidationError(f"--secret-file: {path} does not hold 64 hex digits") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex() + "\n")
    return Pseudonyms(secret)


def _fund(env: Env, address: str, amount: int = 10**18) -> None:
    from ledgerlearn.chain.base import TxRequest

    if env.chain.balance(address) < amount // 10:
        env.chain.send(TxRequest(sender=env.account(), to=address, data=b"", value=amount))


def _ident(label: str) -> bytes:
    from eth_utils import keccak

    return keccak(b"ledgerlearn:" + label.encode())


def _serve(steps, poll: float, done) -> None:
    while not done():
        if not any([bool(s()) for s in steps]):
            time.sleep(poll)


def _serve_member(env: Env, agent, poll: float, couples: int, what: str) -> None:
    """Fund a data or cloud owner's pseudonym, then step it (withdrawing as it goes) until
    ``couples`` couples on its dataset have closed and it is owed nothing."""
    agent.auto_withdraw = True
    _fund(env, agent.address)
    info(what)
    _serve([agent.step], poll, lambda: agent.closed_couples() >= couples and agent.market.owed(agent.address) == 0)
    info(f"{agent.address}: {agent.closed_couples()} couple(s) closed")


@app.command("deploy")
@cli_errors
def deploy_market(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Record the market under this name.")] = None,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Deploy a training market contract (one serves many datasets, models and couples)."""
    from ledgerlearn.markets.training.client import TrainingMarket
    from ledgerlearn.store.deployments import validate_name

    if name is not None:
        validate_name(name)
    env = with_shared_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    if name is not None and _records(env).find(env.chain.chain_id, name) is not None:
        raise ValidationError(f"--name: a market named {name!r} is already recorded; pick another name")
    market = TrainingMarket.deploy(env.chain, sender=env.account())
    if name is not None:
        _records(env).add(env.chain.chain_id, name, {"kind": KIND, "address": market.address})
    if format == OutputFormat.json:
        print_json({"market": market.address, "name": name})
    else:
        console().print(market.address)


@app.command("serve-data-owner")
@cli_errors
def serve_data_owner(
    ctx: typer.Context,
    market_ref: MarketArg,
    dataset: DatasetOpt,
    secret_file: SecretOpt,
    subsets: Annotated[int, typer.Option("--subsets", "-m", help="Skewed subsets.")] = 2,
    replicas: Annotated[int, typer.Option("--replicas", "-n", help="Cloud owners per subset.")] = 3,
    licence_fee: Annotated[str, typer.Option("--licence-fee", help="Paid by each couple over its rounds (wei or e.g. 0.01eth).")] = "0.01eth",
    job_price: Annotated[str, typer.Option("--job-price", help="Paid per passed job to its cloud owner.")] = "0.001eth",
    train_samples: TrainOpt = 6000,
    seed: SeedOpt = 0,
    couples: Annotated[int, typer.Option("--couples", help="Exit after this many couples on the dataset have closed.")] = 1,
    blobs: BlobsOpt = None,
    poll: PollOpt = 0.3,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Data owner: register a skewed, replicated MNIST split, deliver subsets, verify joins, approve couples, draw rounds."""
    from ledgerlearn.markets.training import learning
    from ledgerlearn.markets.training.agents import DataOwnerAgent
    from ledgerlearn.markets.training.demo import load_mnist

    _check(1 <= subsets <= 16, "--subsets", f"expected 1..16, got {subsets}")
    _check(1 <= replicas <= 8, "--replicas", f"expected 1..8, got {replicas}")
    fee, price = parse_amount(licence_fee, what="licence-fee"), parse_amount(job_price, what="job-price")
    env = with_shared_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    market = _open_market(env, market_ref)
    x, y, _, _ = load_mnist(train_samples, 100)
    split = learning.skewed_split(y, subsets, seed=seed)
    agent = DataOwnerAgent(market, blob_store(env, blobs), _pseudonyms(secret_file), dataset_id=_ident(dataset),
                           subsets=[(x[s], y[s]) for s in split], n=replicas, licence_fee=fee, job_price=price,
                           meta=dataset.encode())
    _serve_member(env, agent, poll, couples, f"data owner {agent.address} serving dataset {dataset!r} ({subsets} x {replicas})")


@app.command("serve-cloud-owner")
@cli_errors
def serve_cloud_owner(
    ctx: typer.Context,
    market_ref: MarketArg,
    dataset: DatasetOpt,
    index: Annotated[int, typer.Option("--index", help="The instance to host (subset index // replicas).")],
    secret_file: SecretOpt,
    behaviour: Annotated[str, typer.Option("--behaviour", help="honest, dummy-model or copy-hash.")] = "honest",
    couples: Annotated[int, typer.Option("--couples", help="Exit after this many couples on the dataset have closed.")] = 1,
    blobs: BlobsOpt = None,
    poll: PollOpt = 0.3,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Cloud owner: claim an instance, receive and commit to its subset, train every job it is drawn for."""
    from ledgerlearn.markets.training.agents import BEHAVIOURS, CloudOwnerAgent

    _check(behaviour in BEHAVIOURS, "--behaviour", f"expected one of {', '.join(BEHAVIOURS)}, got {behaviour!r}")
    _check(0 <= index < 128, "--index", f"expected 0..127, got {index}")
    env = with_shared_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    market = _open_market(env, market_ref)
    agent = CloudOwnerAgent(market, blob_store(env, blobs), _pseudonyms(secret_file), dataset_id=_ident(dataset),
                            index=index, behaviour=behaviour)
    _serve_member(env, agent, poll, couples, f"cloud owner {agent.address} for {dataset!r} instance {index} ({behaviour})")


@app.command("serve-model-owner")
@cli_errors
def serve_model_owner(
    ctx: typer.Context,
    market_ref: MarketArg,
    dataset: DatasetOpt,
    model: Annotated[str, typer.Option("--model", help="Model name; the model and couple ids derive from it.")],
    secret_file: SecretOpt,
    rounds: Annotated[int, typer.Option("--rounds", help="Federated rounds.")] = 2,
    picks: Annotated[int, typer.Option("--picks", help="Subsets drawn per round.")] = 1,
    mode: Annotated[str, typer.Option("--mode", help="plain or ckks.")] = "plain",
    steps: Annotated[int, typer.Option("--steps", help="Local gradient steps per job.")] = 100,
    timeout: Annotated[int, typer.Option("--timeout", help="Seconds each round phase may take.")] = 3600,
    test_samples: Annotated[int, typer.Option("--test-samples", help="MNIST test images to evaluate on.")] = 2000,
    blobs: BlobsOpt = None,
    poll: PollOpt = 0.3,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Model owner: register a model, request a couple (escrow), run the rounds, take the replica consensus, FedAvg."""
    from ledgerlearn.markets.training import learning
    from ledgerlearn.markets.training.agents import ModelOwnerAgent
    from ledgerlearn.markets.training.demo import load_mnist
    from ledgerlearn.markets.training.trainers import ModelSpec

    _check(mode in ("plain", "ckks"), "--mode", f"expected plain or ckks, got {mode!r}")
    _check(rounds >= 1, "--rounds", f"must be positive, got {rounds}")
    _check(picks >= 1, "--picks", f"must be positive, got {picks}")
    env = with_shared_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    market = _open_market(env, market_ref)
    dataset_id = _ident(dataset)
    d = market.dataset(dataset_id)
    _check(d.m == 0 or picks <= d.m, "--picks", f"the dataset has {d.m} subsets, got {picks}")
    _, _, xt, yt = load_mnist(1000, test_samples)
    spec = ModelSpec(mode=mode, method=learning.TrainingMethod(steps=steps))
    agent = ModelOwnerAgent(market, blob_store(env, blobs), _pseudonyms(secret_file), model_id=_ident("model:" + model),
                            couple_id=_ident(f"couple:{model}:{dataset}"), dataset_id=dataset_id, spec=spec,
                            rounds=rounds, picks=picks, timeout=timeout, test=(xt, yt))
    _fund(env, agent.address, 10**18 + (market.couple_price(dataset_id, rounds, picks) if d.m else 10**18))
    info(f"model owner {agent.address}: model {model!r} on {dataset!r}, {rounds} rounds of {picks} ({mode})")
    reported = 0

    def progress() -> bool:
        nonlocal reported
        for r in agent.reports[reported:]:
            verdicts = ", ".join(f"{j.index}:{j.verdict}" for j in r.jobs)
            if format == OutputFormat.json:
                print_json({"event": "round", "round": r.round, "subsets": r.subsets, "accuracy": r.accuracy,
                            "jobs": [{"instance": j.index, "verdict": j.verdict, "paid": j.paid} for j in r.jobs]}, line=True)
            else:
                info(f"round {r.round}: subsets {r.subsets}, accuracy {100 * r.accuracy:.2f}%, jobs {verdicts}")
        reported = len(agent.reports)
        return agent.done and market.owed(agent.address) == 0

    _serve([agent.step], poll, progress)
    if format == OutputFormat.json:
        print_json({"event": "done", "couple": _hex(agent.couple_id), "accuracy": [r.accuracy for r in agent.reports],
                    "refund": agent.withdrawn}, line=True)


@app.command("status")
@cli_errors
def status(
    ctx: typer.Context,
    market_ref: MarketArg,
    dataset: DatasetOpt,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """A dataset's instances and couples, as recorded on chain."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    market = _open_market(env, market_ref)
    dataset_id = _ident(dataset)
    d = market.dataset(dataset_id)
    if d.m == 0:
        raise NotFoundError(f"--dataset: no dataset {dataset!r} registered on {market.address}")
    insts = market.instances(dataset_id)
    couples = [(ev["couple_id"], market.couple(ev["couple_id"]))
               for ev in market.events("CoupleRequested") if ev["dataset_id"] == dataset_id]
    doc = {"market": market.address, "dataset": _hex(dataset_id), "owner": d.owner, "m": d.m, "n": d.n,
           "licence_fee": d.licence_fee, "job_price": d.job_price,
           "instances": [{"index": i, "cloud_owner": x.co, "status": x.status} for i, x in enumerate(insts)],
           "couples": [{"couple": _hex(cid), "status": c.status, "round": c.round, "rounds": c.rounds, "escrow": c.escrow}
                       for cid, c in couples]}
    if format == OutputFormat.json:
        print_json(doc)
        return
    print_kv(f"Dataset {dataset!r} on {market.address}", [
        ("data owner", d.owner), ("split", f"{d.m} subsets x {d.n} replicas"),
        ("prices", f"licence {format_eth(d.licence_fee)}, job {format_eth(d.job_price)}")])
    print_table("Instances", ["index", "subset", "cloud owner", "status"],
                [[i, i // d.n, x.co, x.status] for i, x in enumerate(insts)])
    if couples:
        print_table("Couples", ["couple", "status", "round", "escrow"],
                    [[_hex(cid)[:14] + "...", c.status, f"{c.round}/{c.rounds}", format_eth(c.escrow)] for cid, c in couples])
