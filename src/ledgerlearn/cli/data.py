"""Using a shared model: predict, contribute, list, refund, report, withdraw, stats."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer

from ledgerlearn.cli.common import (
    AccountOpt,
    DataDirOpt,
    FormatOpt,
    OutputFormat,
    PasswordEnvOpt,
    RpcUrlOpt,
    cli_errors,
    console,
    print_json,
    print_kv,
    print_table,
    with_env,
)
from ledgerlearn.shared_models.status import format_eth, parse_amount

ModelArg = Annotated[str, typer.Argument(help="Model name (from `ledgerlearn models`) or address.")]
InputArg = Annotated[str, typer.Argument(help="Raw input: text, or a JSON list of numbers; '-' reads stdin.")]
EncodedOpt = Annotated[bool, typer.Option("--encoded", help="INPUT is already the model's encoded input (a JSON list of ints).")]
TxArg = Annotated[str, typer.Argument(help="Hash of the transaction that added the contribution (or its key).")]


def _read_input(text: str):
    if text == "-":
        text = sys.stdin.read().strip()
    return text


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _gas(gas: int, exact: bool) -> str:
    return f"{gas:,}" + ("" if exact else " (execution estimate, not transaction gas)")


def _short(s: str | None, n: int = 40) -> str:
    if s is None:
        return ""
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


@cli_errors
def predict(
    ctx: typer.Context,
    model: ModelArg,
    input: InputArg,
    encoded: EncodedOpt = False,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """Predict the class of an input (free: a read-only call). The model's encoder is applied."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    m = env.model(model)
    raw = _read_input(input)
    x = m.prepare(raw, encoded=True if encoded else None)
    idx = m.predict(x, encoded=True)
    out = {"model": m.address, "class": idx, "label": m.class_name(idx), "x": x}
    if format == OutputFormat.json:
        print_json(out)
    else:
        console().print(f"{out['label']} (class {idx})")


@cli_errors
def contribute(
    ctx: typer.Context,
    model: ModelArg,
    input: InputArg,
    label: Annotated[str, typer.Argument(help="Class name or index.")],
    value: Annotated[Optional[str], typer.Option("--value", help="Wei to send (e.g. 0.1eth); default: the current deposit.")] = None,
    max_deposit: Annotated[Optional[str], typer.Option("--max-deposit", help="Refuse if the deposit is higher (e.g. 0.05eth).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the deposit and the encoded input; send nothing.")] = False,
    encoded: EncodedOpt = False,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Add a training sample, paying the current deposit (shown first); the original is kept off chain."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    value_wei = parse_amount(value, what="value") if value is not None else None
    max_wei = parse_amount(max_deposit, what="max-deposit") if max_deposit is not None else None
    m = env.model(model)
    sender = env.account()
    raw = _read_input(input)
    x = m.prepare(raw, encoded=True if encoded else None)
    lab = m.label_index(label)
    deposit = m.next_deposit()
    if format == OutputFormat.table:
        console().print(f"deposit now: {format_eth(deposit)} ({deposit} wei)")
    if dry_run:
        if format == OutputFormat.json:
            print_json({"model": m.address, "deposit": deposit, "x": x, "label": lab, "sent": False})
        else:
            console().print(f"encoded input: {x}\nlabel: {m.class_name(lab)} ({lab})\n(dry run: nothing sent)")
        return
    r = m.contribute(raw, lab, sender=sender, value=value_wei, encoded=True if encoded else None, max_deposit=max_wei)
    if format == OutputFormat.json:
        print_json({"model": m.address, "author": sender, **r.to_dict()})
    else:
        print_kv("contribution added", [
            ("tx", r.tx_hash), ("author", sender), ("label", f"{m.class_name(r.label)} ({r.label})"),
            ("deposit", f"{format_eth(r.deposit)} ({r.deposit} wei)"), ("added", _when(r.added_time)),
            ("gas", _gas(r.gas_used, r.gas_exact)),
        ])


def _contribution_rows(items, model_label: str | None):
    rows = []
    for c in items:
        flag = " ⚠ " + c.mismatch if c.mismatch else ""
        row = [c.tx_hash, c.label_name, format_eth(c.deposit), _when(c.added_time), c.status_text, _short(c.original) + flag]
        rows.append(([model_label] if model_label is not None else []) + row)
    return rows


@cli_errors
def contributions(
    ctx: typer.Context,
    model: Annotated[Optional[str], typer.Argument(help="Model name or address; default: every recorded model.")] = None,
    all_authors: Annotated[bool, typer.Option("--all", help="Everyone's contributions, not only the account's.")] = False,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """List my contributions with their status ("wait 3h to refund", "refund 0.05 ETH", "refunded", ...)."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    me = env.account(must_sign=False)
    if model is not None:
        targets = [(model, env.model(model))]
    else:
        targets = []
        for name in env.deployments.models(env.chain.chain_id):
            try:
                targets.append((name, env.model(name)))
            except Exception:  # noqa: BLE001 - stale records are shown by `models`
                continue
    out, rows = [], []
    for name, m in targets:
        items = m.contributions() if all_authors else m.my_contributions(me)
        out += [{"model": name, "address": m.address, **c.to_dict()} for c in items]
        rows += _contribution_rows(items, name)
    if format == OutputFormat.json:
        print_json(out)
        return
    if not rows:
        console().print(f"no contributions{'' if all_authors else ' by ' + me}")
        return
    print_table(None if all_authors else f"contributions by {me}",
                ["model", "tx", "label", "deposit", "added (UTC)", "status", "original"], rows)


@cli_errors
def reportable(
    ctx: typer.Context,
    model: ModelArg,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """List others' contributions the account can report now, with the amount it would get."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    me = env.account(must_sign=False)
    m = env.model(model)
    items = m.reportable(me)
    if format == OutputFormat.json:
        print_json([r.to_dict() for r in items])
        return
    if not items:
        console().print(f"nothing {me} can report now")
        return
    print_table(f"reportable by {me}", ["tx", "author", "label", "deposit", "remaining", "you get", "why"], [
        [r.contribution.tx_hash, r.contribution.author, r.contribution.label_name, format_eth(r.contribution.deposit),
         format_eth(r.contribution.remaining), format_eth(r.amount), r.reason] for r in items
    ])


def _claim_output(kind: str, res, format: OutputFormat) -> None:
    if format == OutputFormat.json:
        print_json({"action": kind, **res.to_dict()})
        return
    items = [("tx", res.tx_hash), ("amount", f"{format_eth(res.amount)} ({res.amount} wei)"), ("gas", _gas(res.gas_used, res.gas_exact))]
    if res.credited:
        items.append(("note", f"the payment could not be pushed; {format_eth(res.credited)} is waiting for `ledgerlearn withdraw`"))
    print_kv(kind, items)


@cli_errors
def refund(
    ctx: typer.Context,
    model: ModelArg,
    tx: TxArg,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Take back the deposit of your contribution (after the refund wait, if the model agrees)."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    m = env.model(model)
    res = m.refund(tx, sender=env.account())
    _claim_output("refunded", res, format)


@cli_errors
def report(
    ctx: typer.Context,
    model: ModelArg,
    tx: TxArg,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Report someone else's contribution the model disagrees with (or take it after the waits)."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    m = env.model(model)
    res = m.report(tx, sender=env.account())
    _claim_output("reported", res, format)


@cli_errors
def withdraw(
    ctx: typer.Context,
    model: ModelArg,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Pull payments the model could not push to the account."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    m = env.model(model)
    res = m.withdraw(env.account())
    _claim_output("withdrawn", res, format)


@cli_errors
def stats(
    ctx: typer.Context,
    model: ModelArg,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Balance, pending withdrawal, verified contributions, points and deposits of the account."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    me = env.account(must_sign=False)
    m = env.model(model)
    st = m.stats(me)
    if format == OutputFormat.json:
        print_json(st.to_dict())
        return
    print_kv(f"{me} on {m.info().name}", [
        ("balance", format_eth(st.balance)), ("pending withdrawal", format_eth(st.pending_withdrawal)),
        ("contributions", st.contributions), ("verified (refunded)", f"{st.good_count} of {st.total_good}"),
        ("points", st.points), ("deposits held", format_eth(st.held)), ("refundable now", format_eth(st.refundable)),
    ])


def register(app: typer.Typer) -> None:
    for fn in (predict, contribute, contributions, reportable, refund, report, withdraw, stats):
        app.command(fn.__name__)(fn)
