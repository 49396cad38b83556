"""``ledgerlearn demo``: the end-to-end walk-through on a fresh embedded chain."""

from __future__ import annotations

import typer

from ledgerlearn.cli.common import FormatOpt, OutputFormat, cli_errors, info, print_json, print_kv, print_table


def _eth(wei: int) -> str:
    return f"{wei / 10**18:+.4f} ETH" if wei < 0 else f"{wei / 10**18:.4f} ETH"


@cli_errors
def demo(fmt: FormatOpt = OutputFormat.table, seed: int = typer.Option(0, help="Seed of the generated data.")) -> None:
    """Deploy a sentiment model on a fresh embedded chain; an honest and a label-flipping
    account contribute; time passes; refunds and reports; print the summary."""
    from ledgerlearn.demo import run_demo

    s = run_demo(seed=seed, progress=info)
    if fmt == OutputFormat.json:
        print_json({
            "model": s.model_address, "accuracy_before": s.accuracy_before, "accuracy_after": s.accuracy_after,
            "mirror_agrees_with_contract": s.mirror_agrees, "gas_exact": s.gas_exact,
            "deploy_gas": s.deploy_gas, "deploy_infrastructure_gas": s.deploy_infrastructure_gas,
            "gas": s.gas_summary(),
            "agents": [{**a.__dict__, "net": a.net} for a in s.agents],
        })
        return
    print_kv("Shared model", [
        ("address", s.model_address),
        ("accuracy before contributions", f"{s.accuracy_before:.1%}"),
        ("accuracy after contributions", f"{s.accuracy_after:.1%}"),
        ("Python mirror predicts as the contract", "yes" if s.mirror_agrees else "NO"),
    ])
    print_table("Accounts (deposits are refunded to good data and taken from bad data)",
                ["account", "contributions", "deposited", "refunded", "taken from others", "refunds refused", "net balance change"],
                [[a.name, a.contributions, _eth(a.deposited), _eth(a.refunded), _eth(a.taken), a.refused_refunds,
                  _eth(a.net)] for a in s.agents])
    rows = [["deploy (factory + implementation + clone + weights)", 1, f"{s.deploy_gas:,}", "", ""],
            ["  of which shared infrastructure", 1, f"{s.deploy_infrastructure_gas:,}", "", ""]]
    for op, g in s.gas_summary().items():
        rows.append([op, g["count"], f"{g['avg']:,}", f"{g['min']:,}", f"{g['max']:,}"])
    print_table("Transaction gas per operation" + ("" if s.gas_exact else " (NOT transaction gas)"),
                ["operation", "count", "avg gas", "min", "max"], rows)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
