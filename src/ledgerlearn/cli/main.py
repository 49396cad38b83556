"""The ``ledgerlearn`` command line: one typer app, one module per command group.

    ledgerlearn deploy --model-file model.json --name imdb --encoder "IMDB vocab" --vocab vocab.json
    ledgerlearn predict imdb "a great movie"
    ledgerlearn contribute imdb "a great movie" Positive
    ledgerlearn contributions
    ledgerlearn refund imdb 0x<tx hash>

Without ``--rpc-url`` (or ``WEB3_PROVIDER_URI``) commands use the embedded
chain stored in ``./.ledgerlearn`` (``--data-dir``); see
:mod:`ledgerlearn.cli.common`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ledgerlearn import __version__
from ledgerlearn.cli import abi, bench, dashboard, data, datasets, demo, deploy, models, node, simulate
from ledgerlearn.cli import market
from ledgerlearn.cli.common import AccountOpt, DataDirOpt, DEPLOYMENTS_DIR_ENV, Globals, PasswordEnvOpt, RpcUrlOpt

app = typer.Typer(
    name="ledgerlearn",
    help="Collaborative machine learning on Ethereum: shared models you can use for free and improve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ledgerlearn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
    deployments_dir: Annotated[
        Optional[Path],
        typer.Option("--deployments-dir", envvar=DEPLOYMENTS_DIR_ENV, help="Where deployments/<chain id>.json live. [default: <data-dir>/deployments]"),
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """Options here apply to every command (each command also accepts them)."""
    ctx.obj = Globals(rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env, deployments_dir=deployments_dir)


deploy.register(app)
models.register(app)
data.register(app)
abi.register(app)
demo.register(app)
dashboard.register(app)
app.add_typer(node.app, name="node")
app.add_typer(bench.app, name="bench")
app.add_typer(simulate.app, name="simulate")
app.add_typer(datasets.app, name="data")
app.add_typer(market.app, name="market")


def main() -> None:
    """Console-script entry point: usage errors, too, are one ``error: ...`` line (exit status 2)."""
    import sys

    try:  # typer >= 0.2x vendors click
        from typer._click import exceptions as click_exceptions
    except ImportError:  # pragma: no cover - older typer with click as a dependency
        from click import exceptions as click_exceptions

    try:
        rv = app(standalone_mode=False)
    except click_exceptions.UsageError as exc:
        msg = " ".join(exc.format_message().split())
        if msg:  # empty when a group was called without a command: its help was shown
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            typer.echo(f"error: {msg}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click_exceptions.ClickException as exc:
        typer.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
