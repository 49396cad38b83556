"""``ledgerlearn dashboard``: serve the web dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledgerlearn.cli.common import DataDirOpt, RpcUrlOpt, cli_errors, info, open_shared_chain, with_env


@cli_errors
def dashboard(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (keep 127.0.0.1 unless you mean to share it).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.", min=1, max=65535)] = 8765,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Folder of simulation records (JSON) to chart.")] = Path("runs"),
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """Serve the web dashboard: models, predict, contribute, refund, report, withdraw, charts, runs, markets.

    Against the embedded chain in --data-dir (other ledgerlearn commands can use it
    at the same time) or --rpc-url. The JSON API's schema is at /docs.
    """
    import uvicorn

    from ledgerlearn.dashboard.app import create_app
    from ledgerlearn.dashboard.service import DashboardService

    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    chain = open_shared_chain(env)
    env._stack.callback(chain.close)
    service = DashboardService(
        chain, env.deployments, originals=env.originals, runs_dir=runs_dir,
        backend="rpc" if env.rpc_url else "embedded", rpc_url=env.rpc_url, data_dir=env.data_dir,
    )
    where = env.rpc_url or f"the embedded chain in {env.data_dir}"
    info(f"ledgerlearn dashboard on http://{host}:{port} ({where}); API schema at /docs; Ctrl-C stops it")
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
