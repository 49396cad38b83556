"""``export-abi``: write the contracts' ABIs for other clients (JSON and TypeScript)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledgerlearn.cli.common import FormatOpt, OutputFormat, cli_errors, console, print_json


@cli_errors
def export_abi(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write the ABI files to (created if missing).")],
    format: FormatOpt = OutputFormat.table,
):
    """Export the contract ABIs (JSON, and a TypeScript `as const` file for viem/ethers)."""
    from ledgerlearn.contracts.export import export_abi as _export

    if out_dir.exists() and not out_dir.is_dir():
        raise typer.BadParameter(f"{out_dir} exists and is not a directory", param_hint="'OUT_DIR'")
    written = _export(out_dir)
    files = [str(p) for p in written] if isinstance(written, (list, tuple)) else sorted(str(p) for p in Path(out_dir).rglob("*") if p.is_file())
    if format == OutputFormat.json:
        print_json({"out_dir": str(out_dir), "files": files})
    else:
        console().print(f"wrote {len(files)} file(s) to {out_dir}")
        for f in files:
            console().print(f"  {f}")


def register(app: typer.Typer) -> None:
    app.command("export-abi")(export_abi)
