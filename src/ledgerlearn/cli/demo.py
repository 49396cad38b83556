"""``ledgerlearn demo``: an end-to-end walk-through (filled in by the lead)."""

from __future__ import annotations

import typer

from ledgerlearn.cli.common import DataDirOpt, fail


def demo(ctx: typer.Context, data_dir: DataDirOpt = None) -> None:
    """Run an end-to-end demo: deploy a model, predict, contribute, refund, report."""
    fail("demo: not implemented yet")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
