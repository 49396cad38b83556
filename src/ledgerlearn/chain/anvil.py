"""The local Ethereum node: anvil, installed from npm and run as a subprocess.

anvil (from Foundry) is published on the npm registry as a per-platform
package holding the binary: ``@foundry-rs/anvil-linux-amd64``. npm 11 does not
run the wrapper package's postinstall, so ledgerlearn installs the platform
package directly and uses the binary inside it::

    from ledgerlearn.chain.anvil import AnvilNode, install_anvil
    install_anvil()                              # idempotent; ~1 s when already there
    with AnvilNode(state_path="chain.json") as node:
        chain = RpcChain(node.url)               # mine_mode="auto" sees --no-mining

The command line :class:`AnvilNode` runs (see :meth:`AnvilNode.command`)::

    anvil --host 127.0.0.1 --port PORT --hardfork prague --chain-id 31337
          --gas-limit 30000000 --base-fee 0 --no-mining
          --mnemonic "test test ... junk" --accounts 10 --balance 10000
          --quiet [--state PATH]

Why these flags:

- ``--hardfork prague --chain-id 31337 --gas-limit 30000000``: the fork, chain
  id and block gas limit of :class:`~ledgerlearn.chain.local.LocalChain`, so
  both backends charge the same gas for the same transactions.
- ``--base-fee 0``: anvil treats a zero base fee as fixed (it never rises with
  full blocks), so fee fields computed once stay valid through a burst of
  thousands of transactions. Fees are still paid: the priority fee the node
  suggests (1 gwei) goes to the coinbase, and every receipt reports its
  ``effective_gas_price``. Fees never change ``gas_used``.
- ``--no-mining``: under automine, bursts of hundreds of pending transactions
  made anvil's memory grow until it was killed (24 GB, reproduced 4 times).
  With ``--no-mining`` the client mines with ``evm_mine`` after each batch
  (:class:`~ledgerlearn.chain.rpc.RpcChain` does this by itself), which is
  both stable and ~15x faster (3,000-4,000 tx/s).
- the default mnemonic, 10 accounts, 10,000 ether: the dev accounts of
  :mod:`ledgerlearn.chain.accounts`, funded identically on both backends.
- ``--quiet``: anvil logs every RPC call and every mined transaction (about
  200 bytes per transaction); errors are still printed. ``verbose=True``
  keeps the log.
- ``--state PATH`` (= ``--load-state`` + ``--dump-state``): the chain is
  loaded from PATH if it exists and written back when anvil exits on
  SIGTERM/SIGINT, so :meth:`AnvilNode.stop` (graceful) keeps balances,
  contracts and storage across restarts. A ``kill -9`` loses what happened
  since the last dump; pass ``state_interval`` to also dump periodically.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from ledgerlearn.chain.accounts import DEV_ACCOUNT_COUNT, DEV_BALANCE_WEI, DEV_MNEMONIC
from ledgerlearn.chain.base import BLOCK_GAS_LIMIT, DEV_CHAIN_ID, HARDFORK
from ledgerlearn.errors import ChainError, ValidationError

#: The anvil release ledgerlearn is tested with.
ANVIL_VERSION = "1.7.1"
#: npm package holding the anvil binary for each supported (system, machine).
NPM_PACKAGES = {
    ("Linux", "x86_64"): "@foundry-rs/anvil-linux-amd64",
    ("Linux", "amd64"): "@foundry-rs/anvil-linux-amd64",
}
#: Environment variable naming an anvil binary to use instead of the installed one.
ANVIL_ENV = "LEDGERLEARN_ANVIL"
#: Environment variable naming the install prefix (default: see :func:`default_prefix`).
PREFIX_ENV = "LEDGERLEARN_ANVIL_PREFIX"


def npm_package() -> str:
    """The npm package holding anvil for this platform; ChainError if there is none."""
    key = (platform.system(), platform.machine())
    try:
        return NPM_PACKAGES[key]
    except KeyError:
        raise ChainError(
            f"anvil: no npm package known for {key[0]} {key[1]}; install Foundry's anvil yourself "
            f"and point ${ANVIL_ENV} at the binary"
        ) from None


def _checkout_root() -> Path | None:
    """Root of the source checkout this package runs from (editable install), if any."""
    root = Path(__file__).resolve().parents[3]
    pyproject = root / "pyproject.toml"
    try:
        if pyproject.is_file() and 'name = "ledgerlearn"' in pyproject.read_text():
            return root
    except OSError:
        pass
    return None


def default_prefix() -> Path:
    """Where :func:`install_anvil` installs by default.

    ``$LEDGERLEARN_ANVIL_PREFIX`` if set; else ``.tools/anvil`` in the source
    checkout (what the Makefile expects); else ``<user data dir>/ledgerlearn/anvil``.
    """
    env = os.environ.get(PREFIX_ENV)
    if env:
        return Path(env).expanduser().resolve()
    root = _checkout_root()
    if root is not None:
        return root / ".tools" / "anvil"
    from platformdirs import user_data_dir

    return Path(user_data_dir("ledgerlearn")) / "anvil"


def default_state_path() -> Path:
    """Default state file of the node ``ledgerlearn node`` starts.

    ``$LEDGERLEARN_HOME/anvil/state.json`` if ``LEDGERLEARN_HOME`` is set, else
    ``<user data dir>/ledgerlearn/anvil/state.json``. The directory is not created.
    """
    home = os.environ.get("LEDGERLEARN_HOME")
    if home:
        return Path(home).expanduser() / "anvil" / "state.json"
    from platformdirs import user_data_dir

    return Path(user_data_dir("ledgerlearn")) / "anvil" / "state.json"


def _binary_in(prefix: Path, package: str | None = None) -> Path | None:
    """The anvil binary inside an npm prefix, made executable; None if absent."""
    nm = prefix / "node_modules"
    candidates: list[Path] = []
    if package:
        candidates.append(nm / package / "bin" / "anvil")
    candidates.append(nm / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil")
    if nm.is_dir():  # layout changed? look for any file called anvil in a foundry package
        candidates.extend(sorted((nm / "@foundry-rs").glob("anvil*/**/anvil")) if (nm / "@foundry-rs").is_dir() else [])
    for path in candidates:
        if path.is_file() and not path.is_symlink():
            mode = path.stat().st_mode
            if not mode & stat.S_IXUSR:
                path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return path
    return None


def anvil_version(binary: str | os.PathLike) -> str:
    """The version anvil reports (e.g. ``"1.7.1"``); ChainError if it does not run."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChainError(f"anvil: cannot run {binary}: {exc}") from exc
    if out.returncode != 0:
        raise ChainError(f"anvil: {binary} --version failed: {out.stderr.strip() or out.stdout.strip()}")
    first = (out.stdout.strip().splitlines() or [""])[0]  # "anvil Version: 1.7.1"
    return first.split(":", 1)[-1].strip().split("-")[0] if ":" in first else first


def install_anvil(prefix: str | os.PathLike | None = None, *, version: str = ANVIL_VERSION, npm: str | None = None) -> Path:
    """Install anvil ``version`` from the npm registry into ``prefix``; return the binary.

    Idempotent: if the binary is already there and reports ``version``, nothing
    is downloaded. Runs ``npm install --prefix PREFIX <package>@VERSION``
    (``prefix`` defaults to :func:`default_prefix`), then finds the binary in
    the platform package and makes it executable. Raises
    :class:`~ledgerlearn.errors.ChainError` with npm's output on failure.
    """
    prefix_path = Path(prefix).expanduser().resolve() if prefix is not None else default_prefix()
    package = npm_package()
    existing = _binary_in(prefix_path, package)
    if existing is not None:
        try:
            if anvil_version(existing) == version:
                return existing
        except ChainError:
            pass  # broken binary: reinstall
    npm_bin = npm or shutil.which("npm")
    if npm_bin is None:
        raise ChainError("npm: not found on PATH; install Node.js (>= 20) or set LEDGERLEARN_ANVIL to an anvil binary")
    prefix_path.mkdir(parents=True, exist_ok=True)
    cmd = [npm_bin, "install", "--prefix", str(prefix_path), "--no-audit", "--no-fund", "--ignore-scripts", f"{package}@{version}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChainError(f"npm: `{' '.join(cmd)}` failed to run: {exc}") from exc
    if out.returncode != 0:
        raise ChainError(f"npm: `{' '.join(cmd)}` exited {out.returncode}:\n{(out.stderr or out.stdout)[-4000:]}")
    binary = _binary_in(prefix_path, package)
    if binary is None:
        raise ChainError(f"anvil: npm installed {package}@{version} but no anvil binary was found under {prefix_path / 'node_modules'}")
    got = anvil_version(binary)
    if got != version:
        raise ChainError(f"anvil: installed binary reports version {got!r}, expected {version!r}")
    return binary


def find_anvil() -> Path | None:
    """Locate an anvil binary; None if there is none.

    Order: ``$LEDGERLEARN_ANVIL``; the default install prefix
    (:func:`default_prefix`); ``.tools/anvil`` under the current directory;
    the user data dir install; ``anvil`` on ``PATH`` (e.g. a foundryup install;
    any version, so gas figures may differ from the tested release).
    """
    env = os.environ.get(ANVIL_ENV)
    if env:
        p = Path(env).expanduser()
        return p if p.is_file() and os.access(p, os.X_OK) else None
    try:
        package = npm_package()
    except ChainError:
        package = None
    from platformdirs import user_data_dir

    seen: set[Path] = set()
    for prefix in (default_prefix(), Path.cwd() / ".tools" / "anvil", Path(user_data_dir("ledgerlearn")) / "anvil"):
        prefix = prefix.resolve()
        if prefix in seen:
            continue
        seen.add(prefix)
        found = _binary_in(prefix, package)
        if found is not None:
            return found
    which = shutil.which("anvil")
    return Path(which) if which else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class AnvilNode:
    """An anvil process on a loopback port, optionally persisting its state.

    Args:
        state_path: file the chain is loaded from (if it exists) and dumped to
            on a graceful stop (``--state``); ``None`` keeps the chain in memory
            only. See :func:`default_state_path`.
        port: TCP port; ``None`` picks a free one (retried if taken meanwhile).
        host: interface to listen on (loopback by default; anvil has no auth).
        binary: anvil executable; default :func:`find_anvil`.
        no_mining: run with ``--no-mining`` (the client mines with ``evm_mine``;
            see the module docs); ``False`` uses automine (one block per
            transaction; avoid for bursts).
        state_interval: also dump the state every this many seconds (crash safety).
        startup_timeout: seconds to wait for the node to answer JSON-RPC.
        log_path: file for anvil's output (default: a temporary file, removed
            by :meth:`stop` unless anvil failed).
        verbose: keep anvil's per-request log (drops ``--quiet``).
        extra_args: more command-line arguments, appended last.

    Use as a context manager, or call :meth:`start` / :meth:`stop`::

        node = AnvilNode(state_path=default_state_path()).start()
        ...
        node.stop()          # SIGTERM: anvil dumps its state, then exits
    """

    def __init__(
        self,
        state_path: str | os.PathLike | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        binary: str | os.PathLike | None = None,
        no_mining: bool = True,
        chain_id: int = DEV_CHAIN_ID,
        hardfork: str = HARDFORK,
        gas_limit: int = BLOCK_GAS_LIMIT,
        base_fee: int = 0,
        accounts: int = DEV_ACCOUNT_COUNT,
        balance_ether: int = DEV_BALANCE_WEI // 10**18,
        mnemonic: str = DEV_MNEMONIC,
        state_interval: int | None = None,
        startup_timeout: float = 30.0,
        log_path: str | os.PathLike | None = None,
        verbose: bool = False,
        extra_args: tuple[str, ...] | list[str] = (),
    ):
        if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
            raise ValidationError(f"port: expected 1..65535 or None, got {port!r}")
        if startup_timeout <= 0:
            raise ValidationError(f"startup_timeout: must be positive, got {startup_timeout!r}")
        if state_interval is not None and (not isinstance(state_interval, int) or state_interval <= 0):
            raise ValidationError(f"state_interval: expected a positive int (seconds), got {state_interval!r}")
        self.state_path = Path(state_path).expanduser().resolve() if state_path is not None else None
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._binary = Path(binary) if binary is not None else None
        self.no_mining = no_mining
        self.chain_id = chain_id
        self.hardfork = hardfork
        self.gas_limit = gas_limit
        self.base_fee = base_fee
        self.accounts = accounts
        self.balance_ether = balance_ether
        self.mnemonic = mnemonic
        self.state_interval = state_interval
        self.startup_timeout = startup_timeout
        self.verbose = verbose
        self.extra_args = tuple(extra_args)
        self._log_path_arg = Path(log_path).expanduser() if log_path is not None else None
        self.log_path: Path | None = None
        self._log_is_temp = False
        self._proc: subprocess.Popen | None = None

    # ------------------------------------------------------------------ info
    @property
    def binary(self) -> Path:
        if self._binary is None:
            found = find_anvil()
            if found is None:
                raise ChainError(
                    "anvil: not installed; run `ledgerlearn node install` (or `make anvil`), "
                    f"or set ${ANVIL_ENV} to an anvil binary"
                )
            self._binary = found
        return self._binary

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running node."""
        if self.port is None:
            raise ChainError("anvil: node not started (call start() first)")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self, port: int | None = None) -> list[str]:
        """The anvil command line (``port`` defaults to the current/requested one)."""
        port = port if port is not None else (self.port or self.requested_port or 8545)
        cmd = [
            str(self.binary),
            "--host", self.host,
            "--port", str(port),
            "--hardfork", self.hardfork,
            "--chain-id", str(self.chain_id),
            "--gas-limit", str(self.gas_limit),
            "--base-fee", str(self.base_fee),
            "--mnemonic", self.mnemonic,
            "--accounts", str(self.accounts),
            "--balance", str(self.balance_ether),
        ]  # fmt: skip
        if self.no_mining:
            cmd.append("--no-mining")
        if not self.verbose:
            cmd.append("--quiet")
        if self.state_path is not None:
            cmd += ["--state", str(self.state_path)]
            if self.state_interval:
                cmd += ["--state-interval", str(self.state_interval)]
        cmd += list(self.extra_args)
        return cmd

    # ------------------------------------------------------------- lifecycle
    def start(self) -> "AnvilNode":
        """Start anvil and wait until it answers JSON-RPC; returns ``self``.

        Raises :class:`~ledgerlearn.errors.ChainError` with anvil's output if it
        exits or does not answer within ``startup_timeout`` seconds.
        """
        if self.running:
            return self
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            if self.state_path.exists() and self.state_path.stat().st_size == 0:
                self.state_path.unlink()  # an empty file is not a valid state: start fresh
        if self._log_path_arg is not None:
            self.log_path = self._log_path_arg
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_is_temp = False
        else:
            fd, name = tempfile.mkstemp(prefix="ledgerlearn-anvil-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
            self._log_is_temp = True
        attempts = 1 if self.requested_port else 5
        last_error = ""
        for _ in range(attempts):
            port = self.requested_port or free_port(self.host)
            err = self._launch(port)
            if err is None:
                self.port = port
                return self
            last_error = err
            if "Address already in use" not in err:
                break
        if self._log_is_temp and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)  # its tail is in the error message
            self.log_path = None
        raise ChainError(f"anvil: failed to start ({last_error})")

    def _launch(self, port: int) -> str | None:
        cmd = self.command(port)
        assert self.log_path is not None
        with open(self.log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            except OSError as exc:
                return f"cannot execute {cmd[0]}: {exc}"
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://{self.host}:{port}"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                return f"exited with code {code}; output:\n{self.log_tail()}"
            if _answers(url):
                return None
            time.sleep(0.05)
        self._terminate(5.0)
        return f"no JSON-RPC answer on {url} within {self.startup_timeout:.0f} s; output:\n{self.log_tail()}"

    def log_tail(self, max_chars: int = 4000) -> str:
        """The end of anvil's output (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return "(no output)"
        data = self.log_path.read_bytes()[-max_chars:].decode("utf-8", "replace").strip()
        return data or "(no output)"

    def _terminate(self, timeout: float) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # graceful: anvil dumps --state on SIGTERM
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._proc = None
        return proc.returncode

    def stop(self, timeout: float = 60.0) -> None:
        """Stop anvil gracefully (SIGTERM; it dumps ``state_path``), killing it after ``timeout`` s."""
        if self._proc is None:
            return
        self._terminate(timeout)
        self.port = None
        if self._log_is_temp and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def restart(self) -> "AnvilNode":
        """Stop (dumping state) and start again, on a new port unless one was requested."""
        self.stop()
        return self.start()

    def __enter__(self) -> "AnvilNode":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self):  # last resort: never leave an orphan node behind
        try:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()
        except Exception:
            pass

    def __repr__(self) -> str:
        where = self.url if self.port else "stopped"
        return f"AnvilNode({where}, state={str(self.state_path) if self.state_path else None})"


def _answers(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=1.0) as resp:
            return "result" in json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
