"""The JSON-RPC backend: any Ethereum node, local keys, bulk sends.

:class:`RpcChain` implements :class:`~ledgerlearn.chain.base.Chain` against a
JSON-RPC endpoint (an anvil node started by :class:`~ledgerlearn.chain.anvil.AnvilNode`,
or any node: geth, a testnet provider). Transactions are signed locally
(EIP-1559, with eth-account keys: keystore files or the dev accounts) and sent
raw; the node never holds keys::

    chain = RpcChain("http://127.0.0.1:8545")           # or $WEB3_PROVIDER_URI
    chain = RpcChain(url, accounts=[load_keystore("alice.json")])
    r = chain.send(TxRequest(sender=chain.accounts[0], to=addr, data=calldata))

How a transaction goes out:

1. **Pre-check**: it is simulated first (``eth_simulateV1``, in order, so a
   batch sees its own earlier transactions; ``eth_call`` + ``eth_estimateGas``
   on nodes without it). One that would revert is *not* sent: it raises
   :class:`~ledgerlearn.errors.TransactionReverted` with the decoded reason
   (``Error(string)``, ``Panic(uint256)``, or the raw custom error) and the
   gas it would have used, and changes nothing, not even the sender's nonce.
   The simulation also yields the call's return data (``Receipt.return_data``).
2. **Gas**: ``tx.gas`` if given, else the simulated gas with a margin
   (``gas_used * 1.4 + 10,000``: refunds, the 63/64 rule and the SSTORE
   stipend check need more gas *available* than is finally *used*). The
   limit never changes ``gas_used``.
3. **Fees**: EIP-1559 ``maxPriorityFeePerGas`` from the node
   (``eth_maxPriorityFeePerGas``) and ``maxFeePerGas = 2 * baseFee + tip``,
   refreshed every few seconds; both can be fixed in the constructor. The
   price actually paid is ``Receipt.effective_gas_price``.
4. **Nonces**: a per-sender counter, read once from the node (``pending``)
   and resynchronised when the node rejects a nonce.
5. **Signing**: RLP + keccak + libsecp256k1 (coincurve) directly, ~40 us a
   transaction (eth-account's ``sign_transaction`` takes ~400 us); the bytes
   are identical to eth-account's (a test checks).
6. **Mining**: with ``mine_mode="manual"`` (anvil ``--no-mining``, detected by
   ``"auto"``), the chain mines its transactions itself with ``evm_mine``;
   otherwise (automine, a real network) it sends them one by one, in order,
   and waits for the node to mine them.

:meth:`RpcChain.send_many` does the same for many transactions with few round
trips. Per chunk (``batch_size``): one ``eth_simulateV1`` of the whole chunk;
then, group by group (as many as fit one block by gas limit), the group is
signed while the previous one is posted as JSON-RPC *batch arrays* of
``eth_sendRawTransaction`` (web3 8's ``batch_requests`` refuses that method,
so the arrays are posted directly, two requests in parallel) and mined with
one ``evm_mine``; receipts are fetched by hash in a background thread while
the next chunk is simulated and signed. The transactions land in blocks in
the order given: anvil builds blocks by ``maxFeePerGas`` (then arrival), so
each group's ``maxFeePerGas`` steps down by 1 wei along the list (with a zero
base fee the price paid does not change), and a pool holding one block's
worth at a time keeps anvil from skipping ahead. Against anvil on 2 cores this
sustains 3,400-4,000 signed transactions per second (simple updates;
anvil itself spends ~300 us of CPU per transaction).

The hot path posts JSON-RPC over persistent :mod:`http.client` connections,
with no web3 middleware. :attr:`RpcChain.w3` is a regular web3.py ``Web3`` on the same
URL for anything else.

An ``RpcChain`` is not thread-safe: use one per thread.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import threading
import time
import urllib.parse
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from Crypto.Hash import keccak as _keccak
from coincurve import PrivateKey as _PrivateKey
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledgerlearn.chain.accounts import dev_accounts, resolve_accounts
from ledgerlearn.chain.base import BLOCK_GAS_LIMIT, DEV_CHAIN_ID, Chain, Log, Receipt, TxRequest, checksum
from ledgerlearn.chain.revert import decode_revert_reason
from ledgerlearn.errors import ChainError, TransactionReverted, ValidationError

#: Environment variable read when no URL is given (the web3.py convention).
URL_ENV = "WEB3_PROVIDER_URI"
#: Most JSON-RPC calls in one batch array (anvil rejects ~2,500; geth caps at 1,000).
MAX_BATCH = 1000
#: Most bytes in one request body (anvil's default limit is 2 MB).
MAX_BODY = 1_500_000
#: JSON-RPC error codes meaning "no such method".
_NO_METHOD = (-32601, -32004)
_GENERIC_REVERT = ("execution reverted", "revert", "reverted")


def _keccak256(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


# ---------------------------------------------------------------------- RLP
def _rlp_prefix(n: int, offset: int) -> bytes:
    if n < 56:
        return bytes((offset + n,))
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(b),)) + b


def _rlp_bytes(b: bytes) -> bytes:
    if len(b) == 1 and b[0] < 0x80:
        return b
    return _rlp_prefix(len(b), 0x80) + b


def _rlp_int(i: int) -> bytes:
    if i == 0:
        return b"\x80"
    if i < 0x80:
        return bytes((i,))
    b = i.to_bytes((i.bit_length() + 7) // 8, "big")
    return bytes((0x80 + len(b),)) + b


def _rlp_list(items: Iterable[bytes]) -> bytes:
    body = b"".join(items)
    return _rlp_prefix(len(body), 0xC0) + body


def sign_eip1559(
    key: _PrivateKey, chain_id: int, nonce: int, max_priority_fee: int, max_fee: int, gas: int, to: bytes, value: int, data: bytes
) -> tuple[bytes, bytes]:
    """Sign an EIP-1559 (type 2) transaction with an empty access list.

    ``to`` is the 20-byte address or ``b""`` for a contract creation. Returns
    ``(raw_transaction, tx_hash)``, byte-identical to eth-account's
    ``Account.sign_transaction`` (libsecp256k1 signatures are deterministic,
    RFC 6979, low-s).
    """
    fields = [
        _rlp_int(chain_id), _rlp_int(nonce), _rlp_int(max_priority_fee), _rlp_int(max_fee), _rlp_int(gas),
        _rlp_bytes(to), _rlp_int(value), _rlp_bytes(data), b"\xc0",
    ]  # fmt: skip
    sig = key.sign_recoverable(_keccak256(b"\x02" + _rlp_list(fields)), hasher=None)
    fields += (_rlp_int(sig[64]), _rlp_int(int.from_bytes(sig[:32], "big")), _rlp_int(int.from_bytes(sig[32:64], "big")))
    raw = b"\x02" + _rlp_list(fields)
    return raw, _keccak256(raw)


# ----------------------------------------------------------------- transport
class _Transport:
    """JSON-RPC over HTTP/1.1 keep-alive, one connection per thread.

    :mod:`http.client` directly: it sends headers and body in one write and
    does no per-request proxy/environment lookups (``requests`` spends ~0.5 ms
    a request on those), which matters at thousands of requests per second.
    """

    def __init__(self, url: str, timeout: float):
        self.url = url
        self.timeout = timeout
        u = urllib.parse.urlsplit(url)
        if not u.hostname:
            raise ValidationError(f"url: no host in {url!r}")
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port or (443 if self._https else 80)
        self._path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "ledgerlearn"}
        if u.username is not None:
            cred = f"{urllib.parse.unquote(u.username)}:{urllib.parse.unquote(u.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
        self._local = threading.local()
        self._ids = 0

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self.timeout)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def post(self, body: str | bytes) -> Any:
        data = body.encode() if isinstance(body, str) else body
        for attempt in range(2):
            try:
                conn = self._connection()
                conn.request("POST", self._path, data, self._headers)
                resp = conn.getresponse()
                raw = resp.read()
                if resp.will_close:
                    self._drop()
                break
            except (http.client.HTTPException, OSError) as exc:
                self._drop()
                # a kept-alive connection the server closed: retry once on a fresh one
                if attempt or isinstance(exc, (ConnectionRefusedError, socket.timeout, socket.gaierror)):
                    raise ChainError(f"url: cannot reach the JSON-RPC node at {self.url}: {exc}") from exc
        if resp.status != 200 and not raw.lstrip().startswith((b"{", b"[")):
            raise ChainError(f"url: {self.url} answered HTTP {resp.status}: {raw[:300]!r}")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ChainError(f"url: {self.url} answered non-JSON: {raw[:300]!r}") from exc

    def request(self, method: str, params: list | tuple = ()) -> dict:
        """One call; returns the raw response object (``result`` or ``error``)."""
        self._ids += 1
        out = self.post(json.dumps({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": list(params)}))
        if isinstance(out, list):  # some servers wrap a single response
            out = out[0] if out else {}
        if not isinstance(out, dict):
            raise ChainError(f"{method}: malformed JSON-RPC response {str(out)[:200]}")
        return out

    def call(self, method: str, params: list | tuple = ()) -> Any:
        out = self.request(method, params)
        if "error" in out:
            raise RpcError(method, out["error"])
        return out.get("result")

    def batch(self, calls: Sequence[tuple[str, list]]) -> list[dict]:
        """Calls as JSON-RPC batch arrays (split to respect node limits); responses in order."""
        out: list[dict] = []
        for start in range(0, len(calls), MAX_BATCH):
            part = calls[start : start + MAX_BATCH]
            body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(part)])
            out.extend(self.batch_body(body, len(part)))
        return out

    def batch_body(self, body: str, n: int) -> list[dict]:
        """Post a prepared batch body whose ids are 0..n-1; responses ordered by id."""
        res = self.post(body)
        if isinstance(res, dict):  # the whole batch was refused
            err = res.get("error", res)
            raise ChainError(f"batch of {n} JSON-RPC calls refused by {self.url}: {err}")
        ordered: list[dict | None] = [None] * n
        for r in res:
            i = r.get("id")
            if isinstance(i, int) and 0 <= i < n:
                ordered[i] = r
        missing = [i for i, r in enumerate(ordered) if r is None]
        if missing:
            raise ChainError(f"batch: {len(missing)} of {n} JSON-RPC responses missing from {self.url}")
        return ordered  # type: ignore[return-value]


class RpcError(ChainError):
    """A JSON-RPC error response (``code``, ``message``, ``data``)."""

    def __init__(self, method: str, error: Any):
        err = error if isinstance(error, dict) else {"message": str(error)}
        self.method = method
        self.code = err.get("code")
        self.message = str(err.get("message", ""))
        self.data = err.get("data")
        super().__init__(f"{method}: {self.message} (code {self.code})")

    @property
    def no_method(self) -> bool:
        return self.code in _NO_METHOD or "not supported" in self.message.lower() or "does not exist" in self.message.lower()


def _hexdata(data: Any) -> bytes | None:
    """Revert data from an error's ``data`` field (hex string, or {'data': hex} on some nodes)."""
    if isinstance(data, dict):
        data = data.get("data") or data.get("result")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None


def _reason_from_error(message: str, data: Any) -> str | None:
    """Revert reason from a JSON-RPC error: decoded data, else a non-generic message."""
    raw = _hexdata(data)
    if raw:
        return decode_revert_reason(raw)
    msg = (message or "").strip()
    low = msg.lower()
    if low in _GENERIC_REVERT or not msg:
        return None
    if low.startswith("execution reverted: "):
        return msg[len("execution reverted: ") :]
    return msg


def _is_revert_error(err: RpcError) -> bool:
    low = err.message.lower()
    return err.code == 3 or "revert" in low or "out of gas" in low or "invalid opcode" in low or "gas required exceeds" in low


# --------------------------------------------------------------- the chain
@dataclass
class _Item:
    """One transaction on its way through :meth:`RpcChain.send_many`."""

    idx: int
    sender: str
    key: _PrivateKey
    to: str | None
    to_b: bytes
    data: bytes
    value: int
    gas: int | None
    tip: int | None = None
    max_fee: int | None = None
    sim_gas: int | None = None
    ret: bytes = b""
    gas_limit: int = 0
    nonce: int = -1
    tx_hash: str = ""
    raw_hex: str = ""
    derived_gas: bool = False
    simulated: bool = False


class RpcChain(Chain):
    """A :class:`Chain` on a JSON-RPC node, with local keys.

    Args:
        url: ``http(s)://`` endpoint; default ``$WEB3_PROVIDER_URI``.
        accounts: keys to send from: :class:`LocalAccount` objects (e.g. from
            :func:`~ledgerlearn.chain.accounts.load_keystore`) or private keys.
            ``None``: the ten dev accounts when the node is a dev chain
            (chain id 31337 or it lists the dev accounts), else none.
        mine_mode: ``"auto"`` asks the node (``anvil_getAutomine`` /
            ``hardhat_getAutomine``): with automine off, the chain mines its own
            transactions (``"manual"``), otherwise it waits for the node
            (``"node"``: automine, interval mining, a real network).
        max_priority_fee, max_fee: fixed EIP-1559 fee fields in wei; default
            from the node (``eth_maxPriorityFeePerGas``; ``2 * baseFee + tip``).
        gas_margin: multiplier on the simulated gas when ``tx.gas`` is None.
        batch_size: transactions simulated, sent and mined together in
            :meth:`send_many` (sent as several batch arrays, pipelined).
        parallel: concurrent HTTP requests for the raw-transaction batches
            (anvil validates each request on its own thread).
        timeout: seconds to wait for a node answer, and for receipts when the
            node mines.
    """

    engine_name = "JSON-RPC"
    gas_exact = True

    def __init__(
        self,
        url: str | None = None,
        *,
        accounts: Iterable[LocalAccount | str | bytes] | None = None,
        mine_mode: str = "auto",
        max_priority_fee: int | None = None,
        max_fee: int | None = None,
        gas_margin: float = 1.4,
        batch_size: int = 2000,
        parallel: int = 2,
        timeout: float = 120.0,
    ):
        url = url or os.environ.get(URL_ENV)
        if not url:
            raise ValidationError(f"url: no node URL given and ${URL_ENV} is not set")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValidationError(f"url: expected an http(s):// JSON-RPC endpoint, got {url!r}")
        if mine_mode not in ("auto", "manual", "node"):
            raise ValidationError(f"mine_mode: expected 'auto', 'manual' or 'node', got {mine_mode!r}")
        for name, v in (("max_priority_fee", max_priority_fee), ("max_fee", max_fee)):
            if v is not None and (not isinstance(v, int) or v < 0):
                raise ValidationError(f"{name}: expected a non-negative int (wei), got {v!r}")
        if not (isinstance(gas_margin, (int, float)) and 1.0 <= gas_margin <= 10):
            raise ValidationError(f"gas_margin: expected a number between 1 and 10, got {gas_margin!r}")
        if not isinstance(batch_size, int) or not 1 <= batch_size <= 10_000:
            raise ValidationError(f"batch_size: expected 1..10000, got {batch_size!r}")
        if not isinstance(parallel, int) or not 1 <= parallel <= 16:
            raise ValidationError(f"parallel: expected 1..16, got {parallel!r}")
        self.url = url
        self._rpc = _Transport(url, timeout)
        self.timeout = timeout
        self.gas_margin = float(gas_margin)
        self.batch_size = batch_size
        self.parallel = parallel
        self._fixed_tip = max_priority_fee
        self._fixed_max_fee = max_fee

        try:
            self.chain_id = int(self._rpc.call("eth_chainId"), 16)
        except RpcError as exc:
            raise ChainError(f"url: {url} is not an Ethereum JSON-RPC node: {exc}") from exc
        latest = self._rpc.call("eth_getBlockByNumber", ["latest", False])
        self.block_gas_limit = int(latest["gasLimit"], 16) if latest else BLOCK_GAS_LIMIT

        if accounts is None:
            accts = dev_accounts() if self._is_dev_chain() else []
        else:
            accts = resolve_accounts(accounts)
        self._keys: dict[str, _PrivateKey] = {}
        self._local_accounts: dict[str, LocalAccount] = {}
        for a in accts:
            addr = checksum(a.address)
            self._keys[addr] = _PrivateKey(bytes(a.key))
            self._local_accounts[addr] = a

        self.mine_mode = self._detect_mining() if mine_mode == "auto" else mine_mode
        self._nonces: dict[str, int] = {}
        self._fee_cache: tuple[float, int, int] | None = None
        self._simulate: bool | None = None  # eth_simulateV1 support, learnt on first use
        self._txpool: bool | None = None  # txpool_status support
        self._checksums: dict[str, str] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._rpool: ThreadPoolExecutor | None = None
        self._ppool: ThreadPoolExecutor | None = None
        self._w3 = None

    # ------------------------------------------------------------- set-up
    def _is_dev_chain(self) -> bool:
        if self.chain_id == DEV_CHAIN_ID:
            return True
        try:
            listed = {a.lower() for a in (self._rpc.call("eth_accounts") or [])}
        except ChainError:
            return False
        return dev_accounts()[0].address.lower() in listed

    def _detect_mining(self) -> str:
        for method in ("anvil_getAutomine", "hardhat_getAutomine"):
            try:
                automine = self._rpc.call(method)
            except RpcError:
                continue
            return "node" if automine else "manual"
        return "node"

    @property
    def w3(self):
        """A web3.py ``Web3`` on the same URL (created on first use)."""
        if self._w3 is None:
            from web3 import Web3

            self._w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": self.timeout}))
        return self._w3

    def _executor(self) -> ThreadPoolExecutor:
        """Threads posting raw-transaction batches."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="ledgerlearn-rpc")
        return self._pool

    def _pipe_executor(self) -> ThreadPoolExecutor:
        """One thread posting and mining a group while the next one is signed."""
        if self._ppool is None:
            self._ppool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledgerlearn-mine")
        return self._ppool

    def _receipt_executor(self) -> ThreadPoolExecutor:
        """One thread fetching receipts behind the sending."""
        if self._rpool is None:
            self._rpool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledgerlearn-receipts")
        return self._rpool

    def close(self) -> None:
        for pool in (self._pool, self._ppool, self._rpool):
            if pool is not None:
                pool.shutdown(wait=True)
        self._pool = self._ppool = self._rpool = None

    def __repr__(self) -> str:
        return f"RpcChain({self.url}, chain_id={self.chain_id}, mine_mode={self.mine_mode!r})"

    # ----------------------------------------------------------- accounts
    @property
    def accounts(self) -> list[str]:
        return list(self._keys)

    def add_account(self, account: LocalAccount | str | bytes) -> str:
        """Add a key to send from; returns its address."""
        (acct,) = resolve_accounts([account])
        addr = checksum(acct.address)
        self._keys[addr] = _PrivateKey(bytes(acct.key))
        self._local_accounts[addr] = acct
        return addr

    def balance(self, address: str) -> int:
        return int(self._rpc.call("eth_getBalance", [checksum(address), "latest"]), 16)

    def nonce(self, address: str) -> int:
        """Transaction count of ``address`` in the latest block."""
        return int(self._rpc.call("eth_getTransactionCount", [checksum(address), "latest"]), 16)

    def code(self, address: str) -> bytes:
        return bytes.fromhex(self._rpc.call("eth_getCode", [checksum(address), "latest"])[2:])

    def storage(self, address: str, slot: int) -> int:
        return int(self._rpc.call("eth_getStorageAt", [checksum(address), hex(slot), "latest"]), 16)

    # ---------------------------------------------------------------- fees
    def _fees(self) -> tuple[int, int]:
        """(max_priority_fee, max_fee) in wei, cached for 2 s."""
        now = time.monotonic()
        if self._fee_cache is not None and now - self._fee_cache[0] < 2.0:
            return self._fee_cache[1], self._fee_cache[2]
        tip = self._fixed_tip
        max_fee = self._fixed_max_fee
        if tip is None or max_fee is None:
            calls: list[tuple[str, list]] = [("eth_getBlockByNumber", ["latest", False])]
            if tip is None:
                calls.append(("eth_maxPriorityFeePerGas", []))
            res = self._rpc.batch(calls)
            block = res[0].get("result") or {}
            base = int(block.get("baseFeePerGas", "0x0"), 16)
            if tip is None:
                if "error" in res[1]:
                    tip = 10**9 if base else 0  # node without the method: 1 gwei
                else:
                    tip = int(res[1]["result"], 16)
            if max_fee is None:
                max_fee = 2 * base + tip
        tip = min(tip, max_fee)
        self._fee_cache = (now, tip, max_fee)
        return tip, max_fee

    # -------------------------------------------------------- transactions
    def send(self, tx: TxRequest) -> Receipt:
        (result,) = self._send_all([tx], single=True)
        if isinstance(result, Exception):
            raise result
        return result

    def send_many(self, txs: list[TxRequest]) -> list[Receipt | Exception]:
        """Send ``txs`` in order in batches; one receipt or exception per request.

        Each transaction is simulated on the state left by the ones before it
        (in the same call too), so a transaction that would revert is not sent
        and its entry is a :class:`TransactionReverted`; the others are sent as
        JSON-RPC batch arrays and mined together. A transaction that passed
        the simulation but failed once mined (another client changed the state
        in between, or too little ``gas``) is reported as
        ``TransactionReverted`` with its ``tx_hash`` and ``gas_used``.
        """
        return self._send_all(list(txs), single=False)

    def _addr(self, address: str | bytes) -> str:
        """Checksummed address, cached (eth-utils' checksum costs tens of microseconds)."""
        try:
            return self._checksums[address]  # type: ignore[index]
        except (KeyError, TypeError):
            pass
        c = checksum(address)
        if isinstance(address, str) and len(self._checksums) < 100_000:
            self._checksums[address] = c
        return c

    def _prepare(self, idx: int, tx: TxRequest) -> _Item:
        if not isinstance(tx, TxRequest):
            raise ValidationError(f"txs[{idx}]: expected a TxRequest, got {type(tx).__name__}")
        sender = self._addr(tx.sender)
        key = self._keys.get(sender)
        if key is None:
            raise ValidationError(f"sender: {sender} has no key in this chain (use one of chain.accounts, or accounts=[...])")
        to = self._addr(tx.to) if tx.to else None
        data = bytes(tx.data or b"")
        if not isinstance(tx.value, int) or tx.value < 0:
            raise ValidationError(f"value: expected a non-negative int (wei), got {tx.value!r}")
        if tx.gas is not None and (not isinstance(tx.gas, int) or tx.gas <= 0):
            raise ValidationError(f"gas: expected a positive int or None, got {tx.gas!r}")
        if tx.gas is not None and tx.gas > self.block_gas_limit:
            raise ValidationError(f"gas: {tx.gas} exceeds the block gas limit {self.block_gas_limit}")
        extra = tx.extra or {}
        tip = extra.get("max_priority_fee_per_gas", extra.get("maxPriorityFeePerGas"))
        max_fee = extra.get("max_fee_per_gas", extra.get("maxFeePerGas"))
        return _Item(
            idx=idx, sender=sender, key=key, to=to, to_b=bytes.fromhex(to[2:]) if to else b"", data=data,
            value=tx.value, gas=tx.gas, tip=tip, max_fee=max_fee,
        )

    def _send_all(self, txs: list[TxRequest], *, single: bool) -> list[Receipt | Exception]:
        out: list[Receipt | Exception | None] = [None] * len(txs)
        items: list[_Item] = []
        for i, tx in enumerate(txs):
            try:
                items.append(self._prepare(i, tx))
            except ValidationError as exc:
                if single:
                    raise
                out[i] = exc
        jobs: list[Future] = []
        pos = 0
        failure: ChainError | None = None
        try:
            while pos < len(items):
                chunk: list[_Item] = []
                size = 0
                while pos < len(items) and len(chunk) < self.batch_size:
                    size += 2 * len(items[pos].data) + 400
                    if chunk and size > MAX_BODY // 2:
                        break
                    chunk.append(items[pos])
                    pos += 1
                consumed = self._process_chunk(chunk, out, jobs)
                pos -= len(chunk) - consumed
        except ChainError as exc:
            # The node failed (unreachable, refused a batch...): what was decided stays
            # reported; every transaction not yet decided gets this error.
            if single:
                raise
            failure = exc
            self._nonces.clear()
        finally:
            for job in jobs:
                try:
                    job.result()
                except ChainError as exc:
                    failure = failure or exc
        if failure is not None:
            for it in items:
                if out[it.idx] is None:
                    out[it.idx] = failure
        return out  # type: ignore[return-value]

    # -- pre-check ---------------------------------------------------------
    def _call_obj(self, it: _Item, with_gas: bool = True) -> dict:
        obj: dict[str, Any] = {"from": it.sender, "data": "0x" + it.data.hex()}
        if it.to:
            obj["to"] = it.to
        if it.value:
            obj["value"] = hex(it.value)
        if with_gas and it.gas is not None:
            obj["gas"] = hex(it.gas)
        return obj

    def _precheck(self, chunk: list[_Item], out: list) -> int:
        """Simulate a prefix of ``chunk``; record failures in ``out``; return its length.

        With ``eth_simulateV1`` the calls run in order on one simulated block,
        so each sees the ones before it and every item of the prefix is
        decided. Contract creations (anvil cannot simulate them) and nodes
        without the method use ``eth_call`` + ``eth_estimateGas`` against the
        latest state instead; there the chunk is cut before a failure that
        follows a success (it may depend on the transactions before it) and
        that item is decided again once they are mined.
        """
        if self._simulate is not False and chunk[0].to is not None:
            n = next((i for i, it in enumerate(chunk) if it.to is None), len(chunk))
            decided = self._simulate_calls(chunk[:n], out)
            if decided:
                return decided
        elif chunk[0].to is not None:
            n = next((i for i, it in enumerate(chunk) if it.to is None), len(chunk))
        else:
            n = 1
        return self._call_and_estimate(chunk[:n], out)

    def _simulate_calls(self, items: list[_Item], out: list) -> int:
        """``eth_simulateV1`` over ``items``; 0 if the node cannot (then nothing is recorded)."""
        try:
            res = self._rpc.call(
                "eth_simulateV1",
                [{"blockStateCalls": [{"calls": [self._call_obj(it) for it in items]}], "validation": False}, "latest"],
            )
            calls = res[0]["calls"]
        except RpcError as exc:
            if exc.no_method:
                self._simulate = False
            return 0
        except (KeyError, IndexError, TypeError):
            return 0
        if len(calls) != len(items):
            return 0
        self._simulate = True
        for it, c in zip(items, calls):
            gas = int(c.get("gasUsed", "0x0"), 16)
            if c.get("status") == "0x1":
                it.sim_gas = gas
                it.simulated = True
                it.ret = bytes.fromhex(c.get("returnData", "0x")[2:])
                continue
            err = c.get("error") or {}
            data = err.get("data") or c.get("returnData")
            reason = _reason_from_error(str(err.get("message", "")), data)
            if reason == "execution failed":  # anvil's word for any failure
                reason = None
            if reason is None and it.gas is not None and gas >= it.gas:
                reason = f"out of gas (gas limit {it.gas})"
            out[it.idx] = TransactionReverted(reason, gas_used=gas)
        return len(items)

    def _call_and_estimate(self, items: list[_Item], out: list) -> int:
        calls: list[tuple[str, list]] = []
        for it in items:
            obj = self._call_obj(it)
            calls.append(("eth_call", [obj, "latest"]))
            calls.append(("eth_estimateGas", [obj, "latest"]))
        res = self._rpc.batch(calls)
        for n, it in enumerate(items):
            rc, re_ = res[2 * n], res[2 * n + 1]
            err = rc.get("error") or re_.get("error")
            if err is not None:
                if n > 0:
                    return n  # may depend on the ones before: decide it after they are mined
                e = RpcError("eth_call", err)
                if not _is_revert_error(e):
                    out[it.idx] = ChainError(f"pre-check failed: {e}")
                else:
                    reason = _reason_from_error(e.message, e.data)
                    if reason is None and it.gas is not None and "out of gas" in str(re_.get("error", {}).get("message", "")).lower():
                        reason = f"out of gas (gas limit {it.gas})"
                    out[it.idx] = TransactionReverted(reason)
                return 1
            it.ret = bytes.fromhex(rc["result"][2:])
            it.sim_gas = int(re_["result"], 16)
            it.simulated = False
        return len(items)

    def _gas_limit(self, it: _Item) -> int:
        if it.gas is not None:
            return it.gas
        assert it.sim_gas is not None
        it.derived_gas = True
        if it.simulated:
            # simulated gas is gas *used*; executing needs more available (refunds, 63/64, stipend)
            limit = int(it.sim_gas * self.gas_margin) + 10_000
        else:
            limit = int(it.sim_gas * min(self.gas_margin, 1.2)) + 2_000  # eth_estimateGas is already a limit
        return min(limit, self.block_gas_limit)

    # -- nonces, signing, submission ---------------------------------------
    def _sync_nonces(self, senders: Iterable[str], *, force: bool = False) -> None:
        need = [s for s in dict.fromkeys(senders) if force or s not in self._nonces]
        if not need:
            return
        res = self._rpc.batch([("eth_getTransactionCount", [s, "pending"]) for s in need])
        for s, r in zip(need, res):
            if "error" in r:
                raise RpcError("eth_getTransactionCount", r["error"])
            self._nonces[s] = int(r["result"], 16)

    def _sign(self, items: list[_Item], *, order_hint: bool = False) -> None:
        """Assign nonces and gas limits and sign.

        With ``order_hint`` the ``maxFeePerGas`` decreases by 1 wei along
        ``items``: anvil's block builder takes the ready transaction with the
        highest ``maxFeePerGas`` first, so a block holds them in list order
        whatever order they reached the pool in. (With a zero base fee the
        price paid is the priority fee, so this costs nothing.)
        """
        tip0, max_fee0 = self._fees()
        chain_id = self.chain_id
        nonces = self._nonces
        top = len(items) - 1
        for j, it in enumerate(items):
            n = nonces[it.sender]
            nonces[it.sender] = n + 1
            it.nonce = n
            if not it.gas_limit:
                it.gas_limit = self._gas_limit(it)
            tip = it.tip if it.tip is not None else tip0
            if it.max_fee is not None:
                max_fee = it.max_fee
            else:
                max_fee = max(max_fee0, tip) + (top - j if order_hint else 0)
            raw, h = sign_eip1559(it.key, chain_id, n, tip, max_fee, it.gas_limit, it.to_b, it.value, it.data)
            it.raw_hex = raw.hex()
            it.tx_hash = "0x" + h.hex()

    def _post_raw(self, items: list[_Item], positions: list[int]) -> list[tuple[int, RpcError]]:
        """One JSON-RPC batch array of ``eth_sendRawTransaction``; returns (position, error) pairs."""
        body = "[" + ",".join(
            '{"jsonrpc":"2.0","id":%d,"method":"eth_sendRawTransaction","params":["0x%s"]}' % (k, items[i].raw_hex)
            for k, i in enumerate(positions)
        ) + "]"
        errors = []
        for i, r in zip(positions, self._rpc.batch_body(body, len(positions))):
            if "error" in r:
                e = RpcError("eth_sendRawTransaction", r["error"])
                if "already known" not in e.message.lower():  # the same tx already in the pool is fine
                    errors.append((i, e))
        return errors

    def _parts(self, items: list[_Item], size: int) -> list[list[int]]:
        """Positions of ``items`` split into request bodies of at most ``size`` items and MAX_BODY bytes."""
        parts: list[list[int]] = []
        cur: list[int] = []
        nbytes = 0
        for i, it in enumerate(items):
            n = len(it.raw_hex) + 90
            if cur and (nbytes + n > MAX_BODY or len(cur) >= size):
                parts.append(cur)
                cur, nbytes = [], 0
            cur.append(i)
            nbytes += n
        if cur:
            parts.append(cur)
        return parts

    def _submit(self, items: list[_Item]) -> dict[int, RpcError]:
        """Post signed items as raw-transaction batch arrays, ``parallel`` requests at a time.

        Their order of arrival does not matter (see ``order_hint``). Returns
        the node's errors by position in ``items``.
        """
        parts = self._parts(items, max(25, -(-len(items) // self.parallel)))
        if len(parts) == 1:
            return dict(self._post_raw(items, parts[0]))
        errors: dict[int, RpcError] = {}
        for errs in self._executor().map(lambda pos: self._post_raw(items, pos), parts):
            errors.update(errs)
        return errors

    def _groups(self, items: list[_Item]) -> list[list[_Item]]:
        """Consecutive groups whose gas limits fit one block together.

        anvil's builder skips a transaction whose limit does not fit the rest
        of the block and goes on with later ones, which would reorder them (and
        drop a sender's next transaction as "nonce too high"); a pool holding
        one group at a time never gets there.
        """
        groups: list[list[_Item]] = []
        cur: list[_Item] = []
        gas = 0
        for it in items:
            it.gas_limit = self._gas_limit(it)
            if cur and gas + it.gas_limit > self.block_gas_limit:
                groups.append(cur)
                cur, gas = [], 0
            cur.append(it)
            gas += it.gas_limit
        if cur:
            groups.append(cur)
        return groups

    # -- mining and receipts -------------------------------------------------
    def _pool_status(self) -> tuple[int, int] | None:
        """(pending, queued) transactions in the node's pool; None if it does not say."""
        if self._txpool is False:
            return None
        try:
            st = self._rpc.call("txpool_status")
            self._txpool = True
        except RpcError:
            self._txpool = False
            return None
        return int(st.get("pending", "0x0"), 16), int(st.get("queued", "0x0"), 16)

    def _mine_pending(self) -> int | None:
        """Mine until the pool has no executable transaction; returns the queued count (None: unknown)."""
        for _ in range(10_000):
            self._rpc.call("evm_mine")
            st = self._pool_status()
            if st is None:
                return None
            if st[0] == 0:
                return st[1]
        raise ChainError("evm_mine: transactions still pending after 10,000 blocks")

    def _post_group(self, group: list[_Item]) -> tuple[dict[int, RpcError], int | None]:
        """Post one signed group and, if the node took all of it, mine it (one block)."""
        errors = self._submit(group)
        if errors:
            return errors, None  # handled by the caller's thread, which owns the nonce counters
        return errors, self._mine_pending()

    def _process_chunk(self, chunk: list[_Item], out: list, jobs: list[Future]) -> int:
        consumed = self._precheck(chunk, out)
        ready = [it for it in chunk[:consumed] if out[it.idx] is None]
        if not ready:
            return consumed
        self._sync_nonces(it.sender for it in ready)
        if self.mine_mode != "manual":
            # The node mines as transactions arrive: send them one by one, in order.
            self._sign(ready)
            sent = []
            for it in ready:
                errors = self._submit([it])
                sent.extend(self._retry_rejected([it], errors, out) if errors else [it])
            self._collect(sent, out)
            return consumed
        if len(ready) <= 8 and sum(it.gas_limit or self._gas_limit(it) for it in ready) <= self.block_gas_limit:
            # small (a single send): one block, no pool round trip
            self._sign(ready, order_hint=True)
            errors = self._submit(ready)
            if errors:
                ready = self._retry_rejected(ready, errors, out)
            if ready:
                self._rpc.call("evm_mine")
                self._collect(ready, out)
            return consumed
        # Pipeline: sign group k+1 while group k is posted and mined, one block per group.
        sent: list[_Item] = []
        state = {"all_mined": True}

        def finish(group: list[_Item], fut: Future) -> bool:
            """Wait for a posted group; True if nonces had to be resynchronised."""
            errors, queued = fut.result()
            if errors:
                group = self._retry_rejected(group, errors, out)
                queued = self._mine_pending() if group else 0
            sent.extend(group)
            state["all_mined"] = state["all_mined"] and queued == 0
            return bool(errors)

        pipe = self._pipe_executor()
        previous: tuple[list[_Item], Future] | None = None
        for group in self._groups(ready):
            self._sign(group, order_hint=True)
            if previous is not None and finish(*previous):
                # counters changed under this already-signed group: sign it again
                self._sync_nonces((it.sender for it in group), force=True)
                self._sign(group, order_hint=True)
            previous = (group, pipe.submit(self._post_group, group))
        if previous is not None:
            finish(*previous)
        if not sent:
            return consumed
        if state["all_mined"]:
            # every transaction is in a block: fetch receipts while the next chunk is prepared
            jobs.append(self._receipt_executor().submit(self._collect, sent, out))
        else:
            self._collect(sent, out)
        return consumed

    def _retry_rejected(self, items: list[_Item], errors: dict[int, RpcError], out: list) -> list[_Item]:
        """Handle transactions the node refused: nonce problems are resynchronised and retried once."""
        nonce_err = {i for i, e in errors.items() if "nonce" in e.message.lower()}
        bad_senders = {items[i].sender for i in errors}
        kept = [it for i, it in enumerate(items) if i not in errors]
        for i, e in errors.items():
            if i not in nonce_err:
                it = items[i]
                low = e.message.lower()
                if "insufficient funds" in low:
                    out[it.idx] = ValidationError(f"value: {it.sender} cannot pay value + gas ({e.message})")
                else:
                    out[it.idx] = ChainError(f"transaction refused by the node: {e.message}")
        # Later transactions of a sender whose earlier one was refused would wait forever
        # behind the nonce gap: take them out of the pool (anvil) and send them again.
        stuck = [it for it in kept if it.sender in bad_senders and any(
            items[i].sender == it.sender and items[i].nonce < it.nonce for i in errors)]
        if stuck:
            if self.mine_mode == "manual":
                self._mine_pending()  # the executable ones first, so only the stuck ones remain
            self._drop_from_pool(stuck)
        retry = sorted([items[i] for i in nonce_err] + stuck, key=lambda it: it.idx)
        kept = [it for it in kept if it not in stuck]
        for s in bad_senders:
            self._nonces.pop(s, None)
        if not retry:
            return kept
        self._sync_nonces((it.sender for it in retry), force=True)
        self._sign(retry, order_hint=True)
        errors2 = self._submit(retry)
        for i, e in errors2.items():
            out[retry[i].idx] = ChainError(f"transaction refused by the node: {e.message}")
            self._nonces.pop(retry[i].sender, None)
        return sorted(kept + [it for i, it in enumerate(retry) if i not in errors2], key=lambda it: it.idx)

    def _collect(self, items: list[_Item], out: list) -> None:
        """Fetch the receipts of submitted items into ``out``.

        While some are missing: in manual mode mine another block (up to the
        point where the pool has nothing executable: the rest wait behind a
        nonce gap and are dropped); otherwise poll until ``timeout``.
        """
        pending = list(items)
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        mined = 0
        while pending:
            res = self._rpc.batch([("eth_getTransactionReceipt", [it.tx_hash]) for it in pending])
            missing = []
            for it, r in zip(pending, res):
                rec = r.get("result")
                if "error" in r:
                    out[it.idx] = RpcError("eth_getTransactionReceipt", r["error"])
                elif rec is None:
                    missing.append(it)
                else:
                    out[it.idx] = self._receipt(it, rec)
            pending = missing
            if not pending:
                break
            if self.mine_mode == "manual":
                st = self._pool_status() if mined else None
                if mined >= 1000 or (st is not None and st[0] == 0):
                    self._abandon(pending, out)
                    break
                self._rpc.call("evm_mine")
                mined += 1
            else:
                if time.monotonic() > deadline:
                    for it in pending:
                        out[it.idx] = ChainError(f"transaction {it.tx_hash} not mined within {self.timeout:.0f} s")
                        self._nonces.pop(it.sender, None)
                    break
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        self._fill_timestamps(items, out)

    def _drop_from_pool(self, items: list[_Item]) -> None:
        """Remove non-executable (queued) transactions of these senders from the node's pool (anvil)."""
        for sender in dict.fromkeys(it.sender for it in items):
            try:
                self._rpc.call("anvil_removePoolTransactions", [sender])
            except RpcError:
                for it in items:
                    if it.sender == sender:
                        try:
                            self._rpc.call("anvil_dropTransaction", [it.tx_hash])
                        except RpcError:
                            break

    def _abandon(self, items: list[_Item], out: list) -> None:
        """Transactions that cannot be mined (behind a nonce gap): drop them and resync nonces."""
        self._drop_from_pool(items)
        for it in items:
            out[it.idx] = ChainError(
                f"transaction {it.tx_hash} not mined: nonce {it.nonce} of {it.sender} waits behind a gap "
                "(another client used this account?); it was dropped, send it again"
            )
            self._nonces.pop(it.sender, None)

    def _fill_timestamps(self, items: list[_Item], out: list) -> None:
        need = sorted({r.block_number for it in items if isinstance(r := out[it.idx], Receipt) and r.timestamp < 0})
        if not need:
            return
        res = self._rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in need])
        ts = {n: int(r["result"]["timestamp"], 16) for n, r in zip(need, res) if r.get("result")}
        from dataclasses import replace

        for it in items:
            r = out[it.idx]
            if isinstance(r, Receipt) and r.timestamp < 0:
                out[it.idx] = replace(r, timestamp=ts.get(r.block_number, 0))

    def _cs(self, addr: str) -> str:
        c = self._checksums.get(addr)
        if c is None:
            c = to_checksum_address(addr)
            if len(self._checksums) < 100_000:
                self._checksums[addr] = c
        return c

    def _log(self, lg: dict) -> Log:
        return Log(
            address=self._cs(lg["address"]),
            topics=tuple(bytes.fromhex(t[2:]) for t in lg["topics"]),
            data=bytes.fromhex(lg["data"][2:]),
            block_number=int(lg["blockNumber"], 16),
            tx_hash=lg["transactionHash"],
            log_index=int(lg["logIndex"], 16),
        )

    def _receipt(self, it: _Item, rec: dict) -> Receipt | Exception:
        status = rec.get("status") == "0x1"
        gas_used = int(rec["gasUsed"], 16)
        ts = rec.get("blockTimestamp")
        receipt = Receipt(
            tx_hash=rec["transactionHash"],
            status=status,
            gas_used=gas_used,
            block_number=int(rec["blockNumber"], 16),
            timestamp=int(ts, 16) if isinstance(ts, str) else (ts if isinstance(ts, int) else -1),
            sender=it.sender,
            to=it.to,
            logs=tuple(self._log(lg) for lg in rec.get("logs", ())),
            contract_address=self._cs(rec["contractAddress"]) if rec.get("contractAddress") else None,
            return_data=it.ret if status else b"",
            gas_exact=True,
            effective_gas_price=int(rec.get("effectiveGasPrice", "0x0"), 16),
        )
        if status:
            return receipt
        reason = self._mined_revert_reason(it.tx_hash)
        if reason is None and it.derived_gas and gas_used >= it.gas_limit:
            reason = f"out of gas (limit {it.gas_limit} derived from the simulation; pass gas= explicitly)"
        return TransactionReverted(reason, tx_hash=receipt.tx_hash, gas_used=gas_used)

    def _mined_revert_reason(self, tx_hash: str) -> str | None:
        try:
            trace = self._rpc.call("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        except ChainError:
            return None
        if not isinstance(trace, dict):
            return None
        out = trace.get("output")
        if isinstance(out, str) and len(out) > 2:
            return decode_revert_reason(bytes.fromhex(out[2:]))
        err = trace.get("error") or trace.get("revertReason")
        return _reason_from_error(str(err), None) if err else None

    def receipt(self, tx_hash: str) -> Receipt:
        """Receipt of a mined transaction (``status`` False if it failed).

        ``return_data`` is empty: nodes do not keep it (:meth:`send` fills it
        from the pre-check simulation).
        """
        rec = self._rpc.call("eth_getTransactionReceipt", [tx_hash])
        if rec is None:
            raise ValidationError(f"tx_hash: unknown or not yet mined transaction {tx_hash}")
        ts = rec.get("blockTimestamp")  # anvil adds it (a number); other nodes may not
        if not isinstance(ts, (str, int)):
            ts = self._rpc.call("eth_getBlockByNumber", [rec["blockNumber"], False])["timestamp"]
        return Receipt(
            tx_hash=rec["transactionHash"],
            status=rec.get("status") == "0x1",
            gas_used=int(rec["gasUsed"], 16),
            block_number=int(rec["blockNumber"], 16),
            timestamp=int(ts, 16) if isinstance(ts, str) else ts,
            sender=self._cs(rec["from"]),
            to=self._cs(rec["to"]) if rec.get("to") else None,
            logs=tuple(self._log(lg) for lg in rec.get("logs", ())),
            contract_address=self._cs(rec["contractAddress"]) if rec.get("contractAddress") else None,
            effective_gas_price=int(rec.get("effectiveGasPrice", "0x0"), 16),
        )

    # --------------------------------------------------------------- reads
    def call(self, to: str, data: bytes, *, sender: str | None = None, value: int = 0) -> bytes:
        obj: dict[str, Any] = {"to": checksum(to), "data": "0x" + bytes(data).hex()}
        if sender is not None:
            obj["from"] = checksum(sender)
        if value:
            obj["value"] = hex(value)
        try:
            return bytes.fromhex(self._rpc.call("eth_call", [obj, "latest"])[2:])
        except RpcError as exc:
            if _is_revert_error(exc):
                raise TransactionReverted(_reason_from_error(exc.message, exc.data)) from None
            raise

    def estimate_gas(self, tx: TxRequest) -> int:
        """Gas the transaction would *use* now (``gas_used`` of its receipt).

        This is not a safe gas *limit* when the call earns refunds; leave
        ``tx.gas`` as None and the chain adds a margin. Contract creations
        are the exception: anvil cannot simulate them, so their figure is the
        node's ``eth_estimateGas`` (the smallest sufficient limit, at least the
        gas used). Raises :class:`TransactionReverted` if it would revert.
        """
        it = self._prepare_read(tx)
        out: list = [None]
        self._precheck([it], out)
        if isinstance(out[0], Exception):
            raise out[0]
        assert it.sim_gas is not None
        return it.sim_gas

    def _prepare_read(self, tx: TxRequest) -> _Item:
        sender = checksum(tx.sender)
        to = checksum(tx.to) if tx.to else None
        return _Item(idx=0, sender=sender, key=None, to=to, to_b=b"", data=bytes(tx.data or b""), value=tx.value, gas=tx.gas)  # type: ignore[arg-type]

    # -------------------------------------------------- blocks, time, logs
    @property
    def block_number(self) -> int:
        return int(self._rpc.call("eth_blockNumber"), 16)

    def timestamp(self) -> int:
        return int(self._rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def mine(self, blocks: int = 1) -> int:
        """Mine ``blocks`` blocks now (dev nodes only); returns the latest block number."""
        for _ in range(blocks):
            self._dev_call("evm_mine")
        return self.block_number

    def _dev_call(self, method: str, params: list | tuple = ()) -> Any:
        try:
            return self._rpc.call(method, params)
        except RpcError as exc:
            if exc.no_method:
                raise ChainError(f"{method}: not supported by {self.url} (time travel and snapshots need a dev node such as anvil)") from None
            raise

    def advance_time(self, seconds: int) -> int:
        """Move the node's clock forward by ``seconds`` and mine an empty block at that time.

        Returns the new latest timestamp (at least the previous one plus
        ``seconds``); later blocks are never earlier.
        """
        if not isinstance(seconds, int) or seconds < 0:
            raise ValidationError(f"seconds: expected a non-negative int, got {seconds!r}")
        before = self.timestamp()
        self._dev_call("evm_increaseTime", [seconds])
        self._dev_call("evm_mine")
        now = self.timestamp()
        if now < before + seconds:  # a node whose clock lags: pin the time explicitly
            self._dev_call("evm_setNextBlockTimestamp", [before + seconds])
            self._dev_call("evm_mine")
            now = self.timestamp()
        return now

    def get_logs(
        self,
        address: str | None = None,
        topics: list[bytes | None] | None = None,
        from_block: int = 0,
        to_block: int | None = None,
    ) -> list[Log]:
        flt: dict[str, Any] = {"fromBlock": hex(from_block), "toBlock": hex(to_block) if to_block is not None else "latest"}
        if address is not None:
            flt["address"] = checksum(address)
        if topics:
            flt["topics"] = [None if t is None else "0x" + bytes(t).hex() for t in topics]
        res = self._rpc.call("eth_getLogs", [flt]) or []
        return [self._log(lg) for lg in res]

    # ------------------------------------------------------------ snapshots
    def snapshot(self) -> int:
        return int(self._dev_call("evm_snapshot"), 16)

    def revert(self, snapshot_id: int) -> None:
        if not isinstance(snapshot_id, int) or snapshot_id < 0:
            raise ValidationError(f"snapshot_id: expected an id from snapshot(), got {snapshot_id!r}")
        try:
            ok = self._dev_call("evm_revert", [hex(snapshot_id)])
        except RpcError as exc:
            if exc.code != -32001 and "not found" not in exc.message.lower():
                raise
            ok = False
        self._nonces.clear()  # nonces went back too
        self._fee_cache = None
        if not ok:
            raise ValidationError(f"snapshot_id: unknown or already reverted snapshot {snapshot_id}")
