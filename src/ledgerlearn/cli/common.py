"""What every command shares: chain/account options, output, errors.

Where things live (``--data-dir``, env ``LEDGERLEARN_DATA_DIR``, default
``./.ledgerlearn``):

- ``<data-dir>/chain/``: the embedded chain (used when no ``--rpc-url`` /
  ``WEB3_PROVIDER_URI`` is given), durable between invocations;
- ``<data-dir>/deployments/<chain id>.json``: deployed models by name
  (``--deployments-dir`` / ``LEDGERLEARN_DEPLOYMENTS_DIR`` overrides);
- ``<data-dir>/originals.sqlite``: the original (unencoded) contributions.

Errors print one line to stderr (``error: ...`` naming the bad argument or
showing the contract's revert reason) and exit with status 1; arguments are
validated, and transactions run as calls first, so a failing command changes
nothing.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from ledgerlearn.chain.base import Chain, checksum
from ledgerlearn.errors import LedgerlearnError, NotFoundError, ValidationError

DEFAULT_DATA_DIR = Path(".ledgerlearn")
DATA_DIR_ENV = "LEDGERLEARN_DATA_DIR"
DEPLOYMENTS_DIR_ENV = "LEDGERLEARN_DEPLOYMENTS_DIR"
ACCOUNT_ENV = "LEDGERLEARN_ACCOUNT"
RPC_ENV = "WEB3_PROVIDER_URI"
PASSWORD_ENV = "LEDGERLEARN_PASSWORD"
#: Set to show tracebacks instead of one-line errors.
DEBUG_ENV = "LEDGERLEARN_DEBUG"


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


# -------------------------------------------------------------- option types
RpcUrlOpt = Annotated[
    Optional[str],
    typer.Option("--rpc-url", envvar=RPC_ENV, show_envvar=True,
                 help="JSON-RPC endpoint (e.g. http://127.0.0.1:8545). Without it: the embedded chain in --data-dir."),
]
DataDirOpt = Annotated[
    Optional[Path],
    typer.Option("--data-dir", envvar=DATA_DIR_ENV, show_envvar=True,
                 help="ledgerlearn's data directory: embedded chain, deployments, originals. [default: ./.ledgerlearn]"),
]
AccountOpt = Annotated[
    Optional[str],
    typer.Option("--account", "-a", envvar=ACCOUNT_ENV, show_envvar=True,
                 help="Dev account index (0-9) or address, or a keystore file. [default: 0]"),
]
PasswordEnvOpt = Annotated[
    Optional[str],
    typer.Option("--password-env", help=f"Environment variable holding the keystore password. [default: {PASSWORD_ENV}]"),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


# ------------------------------------------------------------------ globals
@dataclass
class Globals:
    """Options given before the command (``ledgerlearn --data-dir X models``)."""

    rpc_url: str | None = None
    data_dir: Path | None = None
    account: str | None = None
    password_env: str | None = None
    deployments_dir: Path | None = None


@dataclass
class Env:
    """The resolved environment of one command: chain, account, stores."""

    rpc_url: str | None
    data_dir: Path
    account_spec: str | None
    password_env: str
    deployments_dir: Path
    _stack: ExitStack = field(default_factory=ExitStack)
    _chain: Chain | None = None
    _store: Any = None

    @classmethod
    def create(cls, ctx: typer.Context | None, *, rpc_url=None, data_dir=None, account=None, password_env=None) -> "Env":
        g: Globals = (ctx.find_root().obj if ctx is not None else None) or Globals()
        dd = Path(data_dir or g.data_dir or DEFAULT_DATA_DIR).expanduser()
        dep = g.deployments_dir or os.environ.get(DEPLOYMENTS_DIR_ENV) or (dd / "deployments")
        return cls(
            rpc_url=rpc_url or g.rpc_url or None,
            data_dir=dd,
            account_spec=account if account is not None else g.account,
            password_env=password_env or g.password_env or PASSWORD_ENV,
            deployments_dir=Path(dep).expanduser(),
        )

    # ---------------------------------------------------------------- chain
    @property
    def embedded(self) -> bool:
        return not self.rpc_url

    @property
    def chain(self) -> Chain:
        if self._chain is None:
            self._chain = open_chain(self)
            self._stack.callback(self._chain.close)
        return self._chain

    def close(self) -> None:
        self._stack.close()
        self._chain = None

    # ---------------------------------------------------------------- stores
    @property
    def deployments(self):
        from ledgerlearn.store.deployments import DeploymentStore

        return DeploymentStore(self.deployments_dir)

    @property
    def originals(self):
        if self._store is None:
            from ledgerlearn.store.originals import OriginalStore

            self._store = OriginalStore(self.data_dir / "originals.sqlite")
            self._stack.callback(self._store.close)
        return self._store

    # -------------------------------------------------------------- accounts
    def account(self, *, must_sign: bool = True) -> str:
        """The address commands act as (``--account``; dev account 0 by default)."""
        return resolve_account(self, self.account_spec, must_sign=must_sign)

    # ----------------------------------------------------------------- models
    def model(self, name_or_address: str, *, preflight: bool = True):
        """A :class:`SharedModel` by deployment name or address."""
        from ledgerlearn.shared_models.client import SharedModel

        chain = self.chain
        rec = self.deployments.find(chain.chain_id, name_or_address)
        if rec is None:
            if not name_or_address.lower().startswith("0x"):
                self.deployments.get(chain.chain_id, name_or_address)  # raises NotFoundError with the known names
            address = checksum(name_or_address)
            return SharedModel(chain, address, store=self.originals, preflight=preflight)
        try:
            return SharedModel(
                chain, rec.address, store=self.originals, vocab=rec.vocab, feature_indices=rec.feature_indices,
                from_block=rec.deploy_block, preflight=preflight,
            )
        except NotFoundError:
            raise NotFoundError(
                f"model: {rec.name!r} is recorded at {rec.address} in {self.deployments.path(chain.chain_id)},"
                " but this chain has no such contract (a different or reset chain?)"
            ) from None


def open_chain(env: Env) -> Chain:
    """RpcChain for ``--rpc-url``; else the embedded LocalChain in ``<data-dir>/chain`` (locked)."""
    if env.rpc_url:
        from ledgerlearn.chain.rpc import RpcChain

        return RpcChain(env.rpc_url)
    from ledgerlearn.chain.local import LocalChain

    chain_dir = env.data_dir / "chain"
    chain_dir.mkdir(parents=True, exist_ok=True)
    # One process at a time on the embedded chain: others wait for the lock.
    lock = open(env.data_dir / "chain.lock", "a+")
    env._stack.callback(lock.close)
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        err_console().print(f"waiting for another ledgerlearn process using {chain_dir} ...", highlight=False)
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    # A new embedded chain follows the wall clock, so waits pass in real time.
    return LocalChain(chain_dir, clock="wall")


def open_shared_chain(env: Env) -> Chain:
    """Like :func:`open_chain`, for long-running processes that share the embedded chain.

    RpcChain for ``--rpc-url``; else a :class:`SharedLocalChain` in
    ``<data-dir>/chain`` that takes ``<data-dir>/chain.lock`` per operation
    (not for the whole command), so several agents and one-shot commands can
    take turns. The caller closes it.
    """
    if env.rpc_url:
        from ledgerlearn.chain.rpc import RpcChain

        return RpcChain(env.rpc_url)
    from ledgerlearn.chain.shared import SharedLocalChain

    return SharedLocalChain(env.data_dir / "chain", lock_path=env.data_dir / "chain.lock", clock="wall")


def with_shared_env(ctx: typer.Context, **kw) -> Env:
    """:func:`with_env` whose chain other processes can use at the same time (:func:`open_shared_chain`)."""
    env = with_env(ctx, **kw)
    env._chain = open_shared_chain(env)
    env._stack.callback(env._chain.close)
    return env


def blob_store(env: Env, url: str | None):
    """The markets' blob store: ``url`` (any fsspec URL or folder), else ``<data-dir>/blobs``."""
    from ledgerlearn.markets.data.blobstore import BlobStore

    return BlobStore(url or str(env.data_dir / "blobs"))


def resolve_account(env: Env, spec: str | None, *, must_sign: bool = True) -> str:
    chain = env.chain
    accounts = chain.accounts
    if spec is None or spec == "":
        if not accounts:
            raise ValidationError("account: this chain has no unlocked accounts; pass --account KEYSTORE_FILE")
        return accounts[0]
    spec = spec.strip()
    if spec.isdigit():
        i = int(spec)
        if not 0 <= i < len(accounts):
            raise ValidationError(f"account: index {i} is out of range (this chain has accounts 0..{len(accounts) - 1})")
        return accounts[i]
    if spec.lower().startswith("0x") and len(spec) == 42:
        addr = checksum(spec)
        if must_sign and addr not in accounts:
            raise ValidationError(f"account: {addr} is not an account this chain can sign for (use a dev account index or a keystore file)")
        return addr
    path = Path(spec).expanduser()
    if path.is_file():
        from ledgerlearn.chain.accounts import load_keystore

        password = os.environ.get(env.password_env)
        if password is None:
            raise ValidationError(f"password-env: ${env.password_env} is not set (it must hold the password of {spec})")
        acct = load_keystore(path, password)
        add = getattr(chain, "add_account", None)
        if add is None:
            raise ValidationError(f"account: the {type(chain).__name__} backend cannot sign with keystore accounts")
        add(acct)
        return checksum(acct.address)
    raise ValidationError(f"account: {spec!r} is not a dev account index, an address, or a keystore file")


# ------------------------------------------------------------------- output
def console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200, soft_wrap=not sys.stdout.isatty(), highlight=False)


def err_console() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 200, highlight=False)


def print_json(obj: Any, *, line: bool = False) -> None:
    """Print ``obj`` as JSON: indented, or on one line (``line=True``, for event streams)."""
    typer.echo(json.dumps(obj, indent=None if line else 2, default=_json_default))


def _json_default(o: Any):
    if isinstance(o, bytes):
        return "0x" + o.hex()
    if isinstance(o, Enum):
        return o.value
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def print_table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*(str(v) for v in r))
    console().print(t)


def print_kv(title: str | None, items: list[tuple[str, Any]]) -> None:
    t = Table(title=title, show_header=False)
    t.add_column("key", style="bold")
    t.add_column("value", overflow="fold")
    for k, v in items:
        t.add_row(k, str(v))
    console().print(t)


def info(msg: str) -> None:
    """A progress/status line on stderr (stdout stays clean for --format json)."""
    err_console().print(msg, highlight=False, markup=False)


def fail(msg: str, code: int = 1) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def cli_errors(fn: Callable) -> Callable:
    """Turn library errors into a one-line ``error: ...`` on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except typer.BadParameter as exc:
            fail(_one_line(exc.format_message()))
        except LedgerlearnError as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            fail(_one_line(str(exc)))
        except (OSError, ValueError) as exc:  # unreadable files, bad JSON, ...
            if os.environ.get(DEBUG_ENV):
                raise
            fail(_one_line(f"{type(exc).__name__}: {exc}"))
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper


def _one_line(s: str) -> str:
    return " ".join(s.split()) or "failed"


def with_env(ctx: typer.Context, **kw) -> Env:
    """Create the command's Env and close it when the command ends."""
    env = Env.create(ctx, **kw)
    ctx.call_on_close(env.close)
    return env
