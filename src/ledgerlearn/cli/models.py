"""Listing deployed models and showing one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ledgerlearn.cli.common import (
    DataDirOpt,
    FormatOpt,
    OutputFormat,
    RpcUrlOpt,
    cli_errors,
    console,
    print_json,
    print_kv,
    print_table,
    with_env,
)
from ledgerlearn.errors import NotFoundError
from ledgerlearn.shared_models.status import format_duration, format_eth


@cli_errors
def models(
    ctx: typer.Context,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """List the models recorded for this chain (deployments/<chain id>.json)."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    chain = env.chain
    recs = env.deployments.models(chain.chain_id)
    out = []
    for name, rec in recs.items():
        try:
            env.model(name)
            state = "ok"
        except NotFoundError:
            state = "missing on this chain"
        out.append({**rec.to_json(), "status": state})
    if format == OutputFormat.json:
        print_json(out)
        return
    if not out:
        console().print(f"no models recorded for chain {chain.chain_id} in {env.deployments.path(chain.chain_id)}; deploy one with `ledgerlearn deploy`")
        return
    print_table(f"models on chain {chain.chain_id}", ["name", "address", "type", "incentive", "encoder", "block", "status"], [
        [d["name"], d["address"], d["model_type"], d["incentive"], d["encoder"], d["deploy_block"], d["status"]] for d in out
    ])


@cli_errors
def info(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name or address.")],
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """Show a model: name, description, encoder, type, incentive, classes, waits, deposit now."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    m = env.model(model)
    i = m.info()
    deposit = m.next_deposit()
    d = {**i.to_dict(), "next_deposit": deposit, "last_update": m.last_update()}
    if format == OutputFormat.json:
        print_json(d)
        return
    items = [
        ("address", i.address), ("name", i.name), ("description", i.description), ("type", i.model_type),
        ("encoder", i.encoder), ("classes", ", ".join(f"{k}: {c}" for k, c in enumerate(i.classes))),
        ("incentive", i.incentive), ("owner", i.owner), ("finalized", i.finalized),
    ]
    if i.incentive == "drt":
        items += [
            ("refund wait", format_duration(i.refund_wait)), ("owner claim wait", format_duration(i.owner_claim_wait)),
            ("anyone claim wait", format_duration(i.any_claim_wait)), ("cost weight", f"{i.cost_weight} wei"),
            ("deposit now", f"{format_eth(deposit)} ({deposit} wei)"),
        ]
    else:
        items += [("refund wait", format_duration(i.refund_wait))]
    print_kv(None, items)


@cli_errors
def export(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model name or address.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (the reference's JSON format).")],
    features_from: Annotated[Optional[Path], typer.Option("--features-from", help="Original model file: its features are read too (needed for hashed sparse models).")] = None,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """Save a model as trained by its contributions to a model file (deploy it elsewhere with `deploy --model-file`)."""
    from ledgerlearn.models.files import save_model
    from ledgerlearn.shared_models.export import features_of, read_model

    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    m = env.model(model)
    known = features_of(features_from) if features_from is not None else ()
    mirror = read_model(m, known_features=known)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(mirror, out, indent=1)
    d = {"model": m.address, "type": mirror.model_type, "classes": list(mirror.classes_), "file": str(out)}
    if format == OutputFormat.json:
        print_json(d)
    else:
        print_kv(None, list(d.items()))


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("info")(info)
    app.command("export")(export)
