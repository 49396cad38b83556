"""``ledgerlearn node``: the local anvil node (install, start, status) and the clock."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
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
    info,
    print_json,
    print_kv,
    with_env,
)
from ledgerlearn.shared_models.status import format_duration, parse_duration

app = typer.Typer(name="node", help="The local anvil node: install, start, status; move the clock.", no_args_is_help=True)

DEFAULT_PORT = 8545


def _rpc(url: str, method: str, params: list | None = None, timeout: float = 2.0):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - a URL the user gave
        reply = json.loads(r.read())
    if "error" in reply:
        raise RuntimeError(reply["error"].get("message", str(reply["error"])))
    return reply["result"]


def probe(url: str) -> dict | None:
    """Chain id, block number and time of a JSON-RPC node, or None if it does not answer."""
    try:
        chain_id = int(_rpc(url, "eth_chainId"), 16)
        block = _rpc(url, "eth_getBlockByNumber", ["latest", False])
        return {"url": url, "chain_id": chain_id, "block_number": int(block["number"], 16), "timestamp": int(block["timestamp"], 16)}
    except Exception:  # noqa: BLE001 - any failure means "not answering"
        return None


@app.command("install")
@cli_errors
def install(
    prefix: Annotated[Optional[Path], typer.Option("--prefix", help="Install directory. [default: .tools/anvil in a checkout]")] = None,
):
    """Install anvil from the npm registry (the package ships the binary)."""
    from ledgerlearn.chain.anvil import install_anvil

    path = install_anvil(prefix)
    console().print(f"anvil installed: {path}")


@app.command("start")
@cli_errors
def start(
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option("--host", help="Interface (anvil has no authentication: keep it on loopback).")] = "127.0.0.1",
    state: Annotated[Optional[Path], typer.Option("--state", help="State file, loaded at start and saved at stop. [default: user data dir]")] = None,
    no_state: Annotated[bool, typer.Option("--no-state", help="Keep the chain in memory only.")] = False,
    mining: Annotated[str, typer.Option("--mining", help="interval: a block every --block-time seconds, and ledgerlearn clients mine their own batches at once (healthy under bursts; wallets work); manual: only on evm_mine; auto: a block per transaction (anvil's automine; bursts of pending transactions can exhaust its memory).")] = "interval",
    block_time: Annotated[int, typer.Option("--block-time", min=1, help="Seconds between blocks with --mining interval.")] = 1,
    state_interval: Annotated[Optional[int], typer.Option("--state-interval", help="Also save the state every N seconds.")] = 60,
):
    """Run anvil in the foreground (Ctrl-C stops it and saves its state)."""
    from ledgerlearn.chain.anvil import AnvilNode, default_state_path

    if not 0 < port < 65536:
        raise typer.BadParameter(f"{port} is not a TCP port", param_hint="'--port'")
    if probe(f"http://{host}:{port}") is not None:
        raise typer.BadParameter(f"a node already answers at http://{host}:{port}", param_hint="'--port'")
    state_path = None if no_state else (state or default_state_path())
    if state_path is not None:
        Path(state_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    if mining not in ("interval", "manual", "auto"):
        raise typer.BadParameter(f"expected interval, manual or auto, got {mining!r}", param_hint="'--mining'")
    extra = ("--block-time", str(block_time)) if mining == "interval" else ()
    node = AnvilNode(state_path=state_path, port=port, host=host, no_mining=mining == "manual", state_interval=state_interval, extra_args=extra)
    node.start()
    console().print(f"anvil running at {node.url} (chain id {node.chain_id}); state: {state_path or 'in memory only'}")
    console().print(f"use it with: --rpc-url {node.url}   (or export WEB3_PROVIDER_URI={node.url}); Ctrl-C to stop")

    def _term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    try:
        while node.running:
            time.sleep(0.5)
        info("anvil exited on its own:\n" + node.log_tail())
        raise typer.Exit(1)
    except KeyboardInterrupt:
        info("stopping anvil" + (f" (saving its state to {state_path})" if state_path else "") + " ...")
    finally:
        signal.signal(signal.SIGTERM, previous)
        node.stop()


@app.command("status")
@cli_errors
def status(
    ctx: typer.Context,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """Show the chain commands use: the --rpc-url node, or the embedded chain (and any local anvil)."""
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    if env.rpc_url:
        p = probe(env.rpc_url)
        if p is None:
            from ledgerlearn.cli.common import fail

            fail(f"rpc-url: no JSON-RPC node answers at {env.rpc_url} (start one with `ledgerlearn node start`)")
        out = {"backend": "rpc", **p}
    else:
        chain = env.chain
        out = {
            "backend": "embedded", "data_dir": str(env.data_dir / "chain"), "chain_id": chain.chain_id,
            "block_number": chain.block_number, "timestamp": chain.timestamp(),
            "engine": getattr(chain, "engine_name", type(chain).__name__), "clock": getattr(chain, "clock", None),
        }
        local = probe(f"http://127.0.0.1:{DEFAULT_PORT}")
        out["anvil"] = local
    if format == OutputFormat.json:
        print_json(out)
        return
    items = [(k, v) for k, v in out.items() if k != "anvil"]
    if "anvil" in out:
        items.append(("local anvil", f"answering at {out['anvil']['url']}" if out["anvil"] else f"not running on port {DEFAULT_PORT}"))
    print_kv("chain", items)


@app.command("advance-time")
@cli_errors
def advance_time(
    ctx: typer.Context,
    duration: Annotated[str, typer.Argument(help="How far to move the clock: 90, 45m, 3h, 1d12h.")],
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """Move the chain's clock forward (embedded chain or a dev node; for trying out waits)."""
    seconds = parse_duration(duration, what="duration")
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    env.chain.advance_time(seconds)
    console().print(f"clock moved forward by {format_duration(seconds)}")
