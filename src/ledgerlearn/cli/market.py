"""``ledgerlearn market bounty ...``: the prediction-market bounty (``contracts/markets/bounty.vy``).

    ledgerlearn market bounty create --name m1 --bounty 1ether --model-file model.json \\
        --test-file test.jsonl --pieces 10 --commitment m1.secret.json
    ledgerlearn market bounty reveal m1                          # provider: the drawn piece
    ledgerlearn market bounty contribute m1 --text "a great movie" --label 1 -a 1
    ledgerlearn market bounty end m1
    ledgerlearn market bounty reveal m1                          # provider: every other piece
    ledgerlearn market bounty process m1                         # anyone: the reward phase
    ledgerlearn market bounty withdraw m1 -a 1
    ledgerlearn market bounty status m1 --json

A market is named by a 0x address or by the ``--name`` given to ``create``;
names are recorded under ``"markets"`` in ``<deployments dir>/<chain id>.json``
next to the shared models (``ledgerlearn models`` lists those). The record
also keeps what the contract does not store: the path of the provider's
secret commitment file and the vocabulary file of a vocabulary encoder.

The commitment file (``--commitment``) holds the salts and the test pieces:
whoever has it can reveal the hidden test set, and without it the provider
cannot reveal, so the market fails and the bounty goes to the contributors.
It is written with mode 0600 before the market is deployed, and never
overwritten without ``--force``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ledgerlearn.chain.base import checksum
from ledgerlearn.cli import market_data, market_training
from ledgerlearn.cli.common import (
    AccountOpt,
    DataDirOpt,
    Env,
    FormatOpt,
    OutputFormat,
    PasswordEnvOpt,
    RpcUrlOpt,
    cli_errors,
    console,
    info,
    print_json,
    print_kv,
    print_table,
    resolve_account,
    with_env,
)
from ledgerlearn.errors import LedgerlearnError, NotFoundError, TransactionReverted, ValidationError
from ledgerlearn.jsonfile import read_json
from ledgerlearn.shared_models.status import format_duration, format_eth, parse_amount, parse_duration

app = typer.Typer(name="market", help="Markets on chain: prediction-market bounties and the secure data market.", no_args_is_help=True)
bounty_app = typer.Typer(
    name="bounty",
    help="Prediction-market bounty: a provider pays for contributions that improve a perceptron on a hidden test set.",
    no_args_is_help=True,
)
app.add_typer(bounty_app, name="bounty")
app.add_typer(market_data.app, name="data")
app.add_typer(market_training.app, name="training")

#: Supported ``--dataset`` values (text data sets with two classes).
DATASETS = ("imdb",)
DEFAULT_ENCODER = "IMDB vocab, binary"
DEFAULT_MIN_STAKE = "0.001eth"
COMMITMENT_FORMAT = "ledgerlearn bounty commitment 1"
MARKETS_KEY = "markets"

MarketArg = Annotated[str, typer.Argument(help="Market name (from `create --name`) or 0x address.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
CommitmentOpt = Annotated[
    Optional[Path],
    typer.Option("--commitment", help="The provider's secret commitment file. [default: the path recorded by `create`]"),
]
VocabOpt = Annotated[
    Optional[Path],
    typer.Option("--vocab", help="Vocabulary JSON (word -> index) for a vocabulary encoder. [default: the recorded one, else the IMDB vocabulary]"),
]


# ---------------------------------------------------------------- records
class MarketRecords:
    """Markets by name in the deployments file of a chain (key ``"markets"``).

    Reuses :class:`~ledgerlearn.store.deployments.DeploymentStore`'s file,
    atomic writes and lock, so model and market records never clobber each
    other.
    """

    def __init__(self, store):
        self.store = store

    def path(self, chain_id: int) -> Path:
        return self.store.path(chain_id)

    def all(self, chain_id: int) -> dict[str, dict]:
        markets = self.store.load(chain_id).get(MARKETS_KEY) or {}
        return dict(markets) if isinstance(markets, dict) else {}

    def find(self, chain_id: int, ref: str) -> tuple[str, dict] | None:
        markets = self.all(chain_id)
        if ref in markets:
            return ref, markets[ref]
        if ref.lower().startswith("0x"):
            for name, rec in markets.items():
                if str(rec.get("address", "")).lower() == ref.lower():
                    return name, rec
        return None

    def add(self, chain_id: int, name: str, rec: dict) -> None:
        with self.store.locked(chain_id) as data:
            markets = data.get(MARKETS_KEY)
            if not isinstance(markets, dict):
                markets = data[MARKETS_KEY] = {}
            markets[name] = rec

    def update(self, chain_id: int, name: str, **changes) -> None:
        with self.store.locked(chain_id) as data:
            rec = (data.get(MARKETS_KEY) or {}).get(name)
            if isinstance(rec, dict):
                rec.update(changes)


def _records(env: Env) -> MarketRecords:
    return MarketRecords(env.deployments)


class _Market:
    """A resolved market: client, record (if any), chain."""

    def __init__(self, env: Env, client, name: str | None, record: dict | None):
        self.env = env
        self.client = client
        self.name = name
        self.record = record or {}

    @property
    def label(self) -> str:
        return f"{self.name!r} ({self.client.address})" if self.name else self.client.address


def open_market(env: Env, ref: str) -> _Market:
    """A market by recorded name or address; NotFoundError when the chain has no market there."""
    from ledgerlearn.markets.bounty import BountyMarket

    chain = env.chain
    records = _records(env)
    found = records.find(chain.chain_id, ref)
    if found is None and not ref.lower().startswith("0x"):
        known = ", ".join(sorted(records.all(chain.chain_id))) or "none yet"
        raise NotFoundError(
            f"market: no market named {ref!r} recorded for chain {chain.chain_id} in {records.path(chain.chain_id)}"
            f" (known: {known}); give a name from `market bounty create --name` or a 0x address"
        )
    name, rec = found if found is not None else (None, None)
    address = checksum(rec["address"] if rec else ref)
    where = f"{name!r} is recorded at {address}, but this chain has" if name else "this chain has"
    code = getattr(chain, "code", None)
    if code is not None and not code(address):
        raise NotFoundError(f"market: {where} no contract at {address} (a different or reset chain?)")
    client = BountyMarket(chain, address)
    try:
        client.phase()
        client.call("num_pieces")
    except (LedgerlearnError, ValueError, TypeError, IndexError) as exc:
        raise NotFoundError(f"market: the contract at {address} is not a prediction-market bounty ({exc})") from None
    return _Market(env, client, name, rec)


# ------------------------------------------------------------------ output
def _fmt(format: OutputFormat, as_json: bool) -> OutputFormat:
    return OutputFormat.json if as_json else format


def _wei(v: int) -> str:
    return f"{format_eth(v)} ({v} wei)" if v else "0"


def _when(ts: int) -> str:
    if not ts:
        return "-"
    return _dt.datetime.fromtimestamp(int(ts), _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _gas(receipts: list) -> dict:
    gas = [int(r.gas_used) for r in receipts]
    return {
        "transactions": len(gas), "gas_total": sum(gas), "gas_max": max(gas, default=0),
        "gas_exact": all(getattr(r, "gas_exact", True) for r in receipts),
    }


def _gas_text(g: dict) -> str:
    note = "" if g["gas_exact"] else " (execution estimate)"
    if g["transactions"] == 1:
        return f"{g['gas_total']:,}{note}"
    return f"{g['gas_total']:,} in {g['transactions']} transactions (max {g['gas_max']:,}){note}"


def _emit(fmt: OutputFormat, title: str | None, data: dict, items: list[tuple[str, Any]]) -> None:
    if fmt == OutputFormat.json:
        print_json(data)
    else:
        print_kv(title, items)


def _event(client, name: str, receipt) -> dict | None:
    evs = client.contract.events(name, logs=receipt.logs)
    return evs[-1] if evs else None


def _phase_name(client) -> str:
    from ledgerlearn.markets.bounty import PHASES

    return PHASES[client.phase()]


def _require_phase(m: _Market, allowed: tuple[str, ...], doing: str) -> str:
    phase = _phase_name(m.client)
    if phase not in allowed:
        raise ValidationError(f"market: cannot {doing} in the {phase} phase (only in: {', '.join(allowed)})")
    return phase


def _require_provider(m: _Market, account: str, doing: str) -> None:
    provider = checksum(m.client.call("provider"))
    if checksum(account) != provider:
        raise ValidationError(
            f"account: only the market's provider {provider} can {doing}; you are acting as {account} (choose with --account)"
        )


# ------------------------------------------------------------- secret file
def _write_secret(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` atomically, readable by the owner only (0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _commitment_doc(commitment, *, market: str | None, chain_id: int, num_features: int) -> dict:
    return {
        "format": COMMITMENT_FORMAT, "market": market, "chain_id": chain_id, "num_features": num_features,
        "warning": "SECRET: whoever holds this file can reveal the market's hidden test set; keep it until the market is finished",
        **commitment.to_json(),
    }


def _load_commitment(path: Path) -> tuple[dict, Any]:
    from ledgerlearn.markets.bounty import TestSetCommitment

    doc = read_json(path, "commitment")
    try:
        com = TestSetCommitment.from_json(doc)
    except ValidationError as exc:
        raise ValidationError(f"commitment: {str(path)!r}: {exc}") from exc
    return doc, com


def _commitment_path(m: _Market, given: Path | None) -> Path:
    if given is not None:
        return given.expanduser()
    recorded = m.record.get("commitment")
    if recorded:
        return Path(recorded)
    raise ValidationError(f"commitment: give --commitment (no commitment file is recorded for market {m.label})")


def _check_commitment(m: _Market, path: Path, doc: dict, com) -> None:
    """The file's pieces must be exactly the ones committed on chain (nothing is sent otherwise)."""
    c = m.client
    addr = doc.get("market")
    if addr and str(addr).lower() != c.address.lower():
        raise ValidationError(f"commitment: {str(path)!r} belongs to market {addr}, not to {c.address}")
    n = c.call("num_pieces")
    if len(com.pieces) != n:
        raise ValidationError(
            f"commitment: {str(path)!r} holds {len(com.pieces)} pieces but market {m.label} committed {n}"
            " (the wrong file, or `commit` did not finish?)"
        )
    for j, piece in enumerate(com.pieces):
        if piece.hash != c.call("piece_hash", j):
            raise ValidationError(
                f"commitment: piece {j} in {str(path)!r} does not match the hash committed on chain"
                " (edited or tampered with, or another market's file); nothing was sent"
            )


# ----------------------------------------------------------------- inputs
def _check_encoder_name(name: str) -> str:
    if len(name.encode("utf-8")) > 64:
        raise ValidationError(f"encoder: {name!r} is longer than the 64 bytes the contract stores")
    return name


def _text_encoder(name: str, vocab: Path | None):
    from ledgerlearn.encoders import NONE, get_encoder

    if not name or name == NONE:
        raise ValidationError(f"text: the market's encoder is {name or 'empty'!r}: it takes feature indices; give --features instead")
    if vocab is not None and not Path(vocab).is_file():
        raise NotFoundError(f"vocab: no vocabulary file at {str(vocab)!r}")
    enc = get_encoder(name, vocab=vocab)
    if not hasattr(enc, "tokens"):
        raise ValidationError(f"encoder: {name!r} is not a text encoder; give --features instead")
    return enc


def _features_from_indices(raw, what: str) -> dict[int, int]:
    """Feature dict from a list of indices or a {index: value} mapping (strict integers)."""
    from ledgerlearn.markets.bounty import to_features

    if isinstance(raw, dict):
        out = {}
        for k, v in raw.items():
            try:
                i = int(k)
            except (TypeError, ValueError):
                raise ValidationError(f"{what}: feature index {k!r} is not an integer") from None
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValidationError(f"{what}: value {v!r} of feature {k} is not an integer")
            out[i] = v
        return to_features(out)
    if not isinstance(raw, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in raw):
        raise ValidationError(f"{what}: 'features' must be a list of integer feature indices (or an object index -> value)")
    if len(set(raw)) != len(raw):
        raise ValidationError(f"{what}: 'features' repeats an index")
    return to_features(raw)


def _check_range(features: dict[int, int], num_features: int, what: str) -> None:
    bad = sorted(i for i in features if not 0 <= i < num_features)
    if bad:
        raise ValidationError(
            f"{what}: feature index {bad[0]} is out of range: the model has {num_features} features (0..{num_features - 1})"
        )


def parse_features(text: str) -> dict[int, int]:
    """``"3,17,25"`` (value 1 each) or ``"3:2,17:-1"`` -> {index: value}."""
    out: dict[int, int] = {}
    for part in [p.strip() for p in text.split(",")]:
        if not part:
            continue
        idx, _, val = part.partition(":")
        try:
            i = int(idx)
            v = int(val) if val else 1
        except ValueError:
            raise ValidationError(f"features: {part!r} is not an index or index:value (e.g. 3,17,25 or 3:2,17:-1)") from None
        if i in out:
            raise ValidationError(f"features: index {i} is given twice")
        out[i] = v
    if not out:
        raise ValidationError("features: give at least one feature index (e.g. 3,17,25)")
    return {i: v for i, v in out.items() if v != 0}


def _label(v: Any, what: str) -> int:
    """0 or 1 (also "0"/"1"); ``what`` names the label in the message."""
    if not isinstance(v, bool):
        if isinstance(v, str) and v.strip() in ("0", "1"):
            return int(v)
        if isinstance(v, int) and v in (0, 1):
            return int(v)
    raise ValidationError(f"{what}: must be 0 or 1, got {v!r}")


def read_test_file(path: Path, *, encoder_name: str | None, vocab: Path | None) -> tuple[list[tuple[dict, int]], bool]:
    """Samples of a JSON-lines test file, each ``{"text"|"features": ..., "label": 0|1}``; and whether any had text."""
    if not path.is_file():
        raise NotFoundError(f"test-file: no file at {str(path)!r}")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except ValueError as exc:
            raise ValidationError(f"test-file: line {n} of {str(path)!r} is not JSON ({exc})") from exc
        if not isinstance(d, dict) or "label" not in d or ("text" in d) == ("features" in d):
            raise ValidationError(f"test-file: line {n} must be an object with 'label' and one of 'text' or 'features'")
        rows.append((n, d))
    if not rows:
        raise ValidationError(f"test-file: {str(path)!r} holds no samples")
    has_text = any("text" in d for _, d in rows)
    enc = None
    if has_text:
        enc = _text_encoder(encoder_name or DEFAULT_ENCODER, vocab)
    from ledgerlearn.markets.bounty import to_features

    out = []
    for n, d in rows:
        what = f"test-file: line {n}"
        y = _label(d["label"], f"{what}: label")
        if "text" in d:
            if not isinstance(d["text"], str):
                raise ValidationError(f"{what}: 'text' must be a string")
            out.append((to_features(enc.encode(d["text"])), y))
        else:
            out.append((_features_from_indices(d["features"], what), y))
    return out, has_text


def _model_from_file(path: Path, num_features: int | None):
    from ledgerlearn.markets.bounty import Perceptron
    from ledgerlearn.markets.bounty.client import MAX_FEATURES
    from ledgerlearn.models.files import load_model

    if not path.is_file():
        raise NotFoundError(f"model-file: no file at {str(path)!r}")
    model = load_model(path)
    if getattr(model, "model_type", None) != "sparse perceptron":
        raise ValidationError(f"model-file: a bounty market needs a 'sparse perceptron' model, {str(path)!r} holds a {getattr(model, 'model_type', '?')!r}")
    n = num_features
    if n is None:
        if model.n_features_in_ > MAX_FEATURES:
            raise ValidationError(
                f"num-features: {str(path)!r} is a sparse model without a feature count; give --num-features (at most {MAX_FEATURES})"
            )
        n = model.n_features_in_
    if not 0 < n <= MAX_FEATURES:
        raise ValidationError(f"num-features: {n} is out of range (1..{MAX_FEATURES})")
    top = max(model.weights_, default=-1)
    if top >= n:
        raise ValidationError(f"model-file: {str(path)!r} has a weight for feature {top}, beyond the {n} features of the market")
    w_min, w_max = -(2**95), 2**95 - 1  # the contract's int96 lanes
    if not w_min <= model.intercept_ <= w_max:
        raise ValidationError(f"model-file: the intercept of {str(path)!r} is out of the market's int96 range")
    if not 0 <= model.learning_rate_ <= 2**63:
        raise ValidationError(f"model-file: the learning rate of {str(path)!r} is out of the market's range (0..2**63)")
    return Perceptron([model.weight(i) for i in range(n)], model.intercept_, model.learning_rate_)


def _from_dataset(dataset: str, *, encoder_name: str, vocab: Path | None, seed: int, init_size: int | None,
                  test_size: int | None, num_features: int | None):
    """(initial model or None, test samples or None, num_features) drawn from a data set, as /tmp/pm/imdb.py does."""
    import numpy as np

    from ledgerlearn.datasets import load
    from ledgerlearn.markets.bounty import Perceptron, to_features
    from ledgerlearn.markets.bounty.client import MAX_FEATURES
    from ledgerlearn.models.sgd import sgd_perceptron

    if dataset not in DATASETS:
        raise ValidationError(f"dataset: {dataset!r} is not supported (one of: {', '.join(DATASETS)})")
    enc = _text_encoder(encoder_name, vocab)
    if num_features is None:
        num_features = max(enc.vocab.values()) + 1 if getattr(enc, "vocab", None) else None
    if num_features is None or not 0 < num_features <= MAX_FEATURES:
        raise ValidationError(f"num-features: give --num-features (1..{MAX_FEATURES}) for encoder {encoder_name!r}")
    ds = load(dataset)
    rng = np.random.default_rng(seed)
    p_train, p_test = rng.permutation(ds.n_train), rng.permutation(ds.n_test)
    model = test = None
    if init_size is not None:
        if not 2 <= init_size <= ds.n_train:
            raise ValidationError(f"init-size: must be in 2..{ds.n_train}, got {init_size}")
        idx = p_train[:init_size]
        X = [enc.encode(ds.x_train[i]) for i in idx]
        y = [int(ds.y_train[i]) for i in idx]
        model = Perceptron.from_sparse(sgd_perceptron(X, y, classes=list(ds.classes), num_features=num_features, random_state=seed))
    if test_size is not None:
        if not 2 <= test_size <= ds.n_test:
            raise ValidationError(f"test-size: must be in 2..{ds.n_test}, got {test_size}")
        test = [(to_features(enc.encode(ds.x_test[i])), int(ds.y_test[i])) for i in p_test[:test_size]]
    return model, test, num_features


def _split(samples, num_pieces: int, num_features: int):
    """TestSetCommitment.split, also for a single piece (``commit`` may add one)."""
    from ledgerlearn.markets.bounty import TestPiece, TestSetCommitment, encode_sample
    from ledgerlearn.markets.bounty.encoding import MAX_CALL_WORDS, MAX_PIECE_FEATURES

    if num_pieces < 1:
        raise ValidationError(f"pieces: must be at least 1, got {num_pieces}")
    if num_pieces >= 2:
        return TestSetCommitment.split(samples, num_pieces, num_features=num_features)
    body = [w for f, y in samples for w in encode_sample(f, y, num_features=num_features)]
    feats = sum(len(f) for f, _ in samples)
    if feats > MAX_PIECE_FEATURES or len(body) + 2 > MAX_CALL_WORDS:
        raise ValidationError(f"test set: one piece would hold {feats} features in {len(body)} words; use more --pieces")
    return TestSetCommitment([TestPiece(secrets.randbits(256), body)])


# ---------------------------------------------------------------- commands
@bounty_app.command("create")
@cli_errors
def create(
    ctx: typer.Context,
    bounty: Annotated[str, typer.Option("--bounty", help="The bounty the provider escrows: wei, or e.g. 1ether, 0.5eth, 100gwei.")],
    commitment: Annotated[Optional[Path], typer.Option("--commitment", help="Where to write the SECRET test-set commitment (mode 0600). [default: <data-dir>/markets/<name>.commitment.json]")] = None,
    name: Annotated[Optional[str], typer.Option("--name", "-n", help="Record the market under this name (later commands may use it instead of the address).")] = None,
    model_file: Annotated[Optional[Path], typer.Option("--model-file", help="Initial model: a 'sparse perceptron' model file.")] = None,
    test_file: Annotated[Optional[Path], typer.Option("--test-file", help='Hidden test set: JSON lines {"text": ... | "features": [indices], "label": 0|1}.')] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Take the initial model (--init-size) and/or the test set (--test-size) from a data set: imdb.")] = None,
    init_size: Annotated[Optional[int], typer.Option("--init-size", help="With --dataset: train the initial model on this many shuffled training reviews.")] = None,
    test_size: Annotated[Optional[int], typer.Option("--test-size", help="With --dataset: this many shuffled test reviews are the hidden test set.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Shuffle seed for --dataset.")] = 0,
    pieces: Annotated[int, typer.Option("--pieces", help="Pieces the test set is split into (one, drawn at random, is revealed first).")] = 10,
    encoder: Annotated[Optional[str], typer.Option("--encoder", help=f"Input encoder named on chain. [default: {DEFAULT_ENCODER!r} for --dataset, --vocab or text test data; else 'none']")] = None,
    vocab: Annotated[Optional[Path], typer.Option("--vocab", help="Vocabulary JSON (word -> index) for a vocabulary encoder (recorded for contributors).")] = None,
    num_features: Annotated[Optional[int], typer.Option("--num-features", help="Features of the market's model (at most 4096). [default: the model's, or the vocabulary size]")] = None,
    min_stake: Annotated[str, typer.Option("--min-stake", help="Deposit per contribution (wei or e.g. 0.001eth).")] = DEFAULT_MIN_STAKE,
    min_length: Annotated[str, typer.Option("--min-length", help="Shortest participation phase: seconds or e.g. 1h, 2d.")] = "0",
    min_contributions: Annotated[int, typer.Option("--min-contributions", help="Contributions needed before `end` (or a reveal window after --min-length).")] = 0,
    reveal_window: Annotated[str, typer.Option("--reveal-window", help="Time the provider has to reveal after `end`.")] = "7d",
    claim_wait: Annotated[str, typer.Option("--claim-wait", help="After the market finished, anyone may collect unclaimed balances after this.")] = "30d",
    group: Annotated[bool, typer.Option("--group/--no-group", help="Score consecutive contributions by one address as one.")] = False,
    reset: Annotated[bool, typer.Option("--reset/--no-reset", help="Replay the remaining contributions on the initial model in every pass.")] = False,
    greater_deposits: Annotated[bool, typer.Option("--greater-deposits/--no-greater-deposits", help="Accept deposits above --min-stake.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --commitment file.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing market record with the same --name.")] = False,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Deploy a bounty market: escrow --bounty, load the initial model, commit to the hidden test set."""
    from ledgerlearn.markets.bounty import BountyMarket, MarketOptions
    from ledgerlearn.store.deployments import validate_name

    fmt = _fmt(format, as_json)
    # ---- validate everything before anything is sent
    if name is not None:
        try:
            validate_name(name)
        except ValidationError as exc:
            raise ValidationError(str(exc).replace("model name", "market name")) from None
    bounty_wei = parse_amount(bounty, what="bounty")
    if bounty_wei <= 0:
        raise ValidationError("bounty: must be more than 0 wei")
    stake = parse_amount(min_stake, what="min-stake")
    if stake <= 0:
        raise ValidationError("min-stake: must be more than 0 wei")
    opts = MarketOptions(
        min_stake=stake, min_length_s=parse_duration(min_length, what="min-length"), min_contributions=min_contributions,
        reveal_window_s=parse_duration(reveal_window, what="reveal-window"), any_claim_wait_s=parse_duration(claim_wait, what="claim-wait"),
        group_contributions=group, reset_model=reset, allow_greater_deposit=greater_deposits,
    )
    if min_contributions < 0:
        raise ValidationError(f"min-contributions: must not be negative, got {min_contributions}")
    if opts.reveal_window_s <= 0:
        raise ValidationError("reveal-window: must be positive")
    if pieces < 2:
        raise ValidationError(f"pieces: need at least 2 (one is revealed first), got {pieces}")
    if dataset is not None and dataset not in DATASETS:
        raise ValidationError(f"dataset: {dataset!r} is not supported (one of: {', '.join(DATASETS)})")
    if (model_file is None) == (init_size is None):
        raise typer.BadParameter("give exactly one of --model-file and --init-size (with --dataset)", param_hint="'--model-file' / '--init-size'")
    if (test_file is None) == (test_size is None):
        raise typer.BadParameter("give exactly one of --test-file and --test-size (with --dataset)", param_hint="'--test-file' / '--test-size'")
    if (init_size is not None or test_size is not None) and dataset is None:
        raise typer.BadParameter("--init-size and --test-size need --dataset", param_hint="'--dataset'")
    if vocab is not None:
        vocab = vocab.expanduser().resolve()
        if not vocab.is_file():
            raise NotFoundError(f"vocab: no vocabulary file at {str(vocab)!r}")
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    if commitment is None:
        if name is None:
            raise typer.BadParameter("give --commitment (where the secret commitment is written) or --name", param_hint="'--commitment'")
        commitment = env.data_dir / "markets" / f"{name}.commitment.json"
    commitment = commitment.expanduser().resolve()
    if commitment.exists() and not force:
        raise ValidationError(
            f"commitment: {str(commitment)!r} already exists (the secret of another market?); choose another path or pass --force"
        )
    if commitment.is_dir():
        raise ValidationError(f"commitment: {str(commitment)!r} is a directory")

    # ---- the model and the hidden test set
    text_input = dataset is not None or vocab is not None
    model = test = None
    if model_file is not None:
        model = _model_from_file(model_file, num_features)
        num_features = len(model.weights)
    if test_file is not None:
        test, has_text = read_test_file(test_file, encoder_name=encoder, vocab=vocab)
        text_input = text_input or has_text
    enc_name = _check_encoder_name(encoder if encoder is not None else (DEFAULT_ENCODER if text_input else "none"))
    if dataset is not None:
        m2, t2, nf = _from_dataset(dataset, encoder_name=enc_name, vocab=vocab, seed=seed, init_size=init_size,
                                   test_size=test_size, num_features=num_features)
        model = model if model is not None else m2
        test = test if test is not None else t2
        num_features = nf
        if len(model.weights) != num_features:
            raise ValidationError(f"num-features: the model has {len(model.weights)} features, the data set's encoder {num_features}")
    assert model is not None and test is not None
    n = len(model.weights)
    for j, (f, _) in enumerate(test):
        _check_range(f, n, f"test set: sample {j}")
    com = _split(test, pieces, n)

    chain = env.chain
    provider = env.account()
    records = _records(env)
    if name is not None and not replace:
        found = records.find(chain.chain_id, name)
        if found is not None:
            raise ValidationError(f"name: a market named {name!r} is already recorded at {found[1].get('address')}; pick another name or pass --replace")
    if chain.balance(provider) < bounty_wei:
        raise ValidationError(f"bounty: {provider} holds {format_eth(chain.balance(provider))}, less than the bounty {format_eth(bounty_wei)}")

    # ---- the secret is on disk before any money is on chain
    pending = commitment.with_name(f".{commitment.name}.pending")
    _write_secret(pending, _commitment_doc(com, market=None, chain_id=chain.chain_id, num_features=n))
    receipts: list = []
    if fmt == OutputFormat.table:
        console().print(f"creating a bounty market of {format_eth(bounty_wei)} from {provider}: {n} features, "
                        f"{len(test)} test samples in {len(com.pieces)} pieces ...")
    try:
        market = BountyMarket.create(
            chain, provider=provider, bounty=bounty_wei, model=model, commitment=com, options=opts, encoder=enc_name,
            on_receipt=lambda what, r: receipts.append(r),
        )
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    _write_secret(commitment, _commitment_doc(com, market=market.address, chain_id=chain.chain_id, num_features=n))
    pending.unlink(missing_ok=True)
    st = market.status()
    g = _gas(receipts)
    rec = {
        "address": market.address, "provider": provider, "encoder": enc_name, "vocab": str(vocab) if vocab else None,
        "commitment": str(commitment), "deploy_block": receipts[0].block_number if receipts else chain.block_number,
        "draw_block": st["draw_block"], "bounty": bounty_wei, "num_features": n, "test_samples": len(test),
        "pieces": len(com.pieces), "tx_hashes": [r.tx_hash for r in receipts], "gas_total": g["gas_total"],
        "created_at": time.time(),
    }
    if name is not None:
        records.add(chain.chain_id, name, rec)
    out = {"name": name, **rec, "chain_id": chain.chain_id, "phase": st["phase"], "min_stake": stake, "gas_exact": g["gas_exact"]}
    if fmt == OutputFormat.json:
        print_json(out)
        return
    items = [
        ("name", name or "- (not recorded; use the address)"), ("address", market.address), ("provider", provider),
        ("bounty", _wei(bounty_wei)), ("min stake", _wei(stake)), ("encoder", enc_name), ("features", n),
        ("test set", f"{len(test)} samples in {len(com.pieces)} pieces"),
        ("draw block", f"{st['draw_block']} (now {chain.block_number}); then reveal the drawn piece: `market bounty reveal {name or market.address}`"),
        ("commitment", f"{commitment} (SECRET; keep it until the market is finished)"),
        ("gas", _gas_text(g)),
    ]
    if name is not None:
        items.append(("recorded in", str(records.path(chain.chain_id))))
    print_kv("market created", items)


@bounty_app.command("commit")
@cli_errors
def commit(
    ctx: typer.Context,
    market: MarketArg,
    test_file: Annotated[Path, typer.Option("--test-file", help='More hidden test samples: JSON lines {"text"|"features": ..., "label": 0|1}.')],
    commitment: CommitmentOpt = None,
    pieces: Annotated[int, typer.Option("--pieces", help="Pieces these samples are split into.")] = 1,
    vocab: VocabOpt = None,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Provider, before the draw block: commit more test pieces, appending them to the commitment file."""
    fmt = _fmt(format, as_json)
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    m = open_market(env, market)
    c = m.client
    me = env.account()
    _require_provider(m, me, "commit test pieces")
    _require_phase(m, ("commitment",), "commit test pieces")
    draw_block = c.call("draw_block")
    if env.chain.block_number + 1 > draw_block:
        raise ValidationError(
            f"market: the draw block {draw_block} has been mined (the chain is at block {env.chain.block_number}):"
            " test pieces can only be added before it"
        )
    path = _commitment_path(m, commitment)
    doc, com = _load_commitment(path)
    _check_commitment(m, path, doc, com)
    n = c.call("num_features")
    samples, _ = read_test_file(test_file, encoder_name=c.call("encoder") or None, vocab=vocab or _rec_vocab(m))
    for j, (f, _) in enumerate(samples):
        _check_range(f, n, f"test-file: sample {j}")
    new = _split(samples, pieces, n)
    if len(com.pieces) + len(new.pieces) > 256:
        raise ValidationError(f"pieces: the market holds {len(com.pieces)} pieces; at most 256 in all")
    # the new secret is on disk before the hashes go on chain
    from ledgerlearn.markets.bounty import TestSetCommitment

    merged = TestSetCommitment(com.pieces + new.pieces)
    pending = path.with_name(f".{path.name}.pending")
    _write_secret(pending, {**doc, **_commitment_doc(merged, market=c.address, chain_id=env.chain.chain_id, num_features=n)})
    try:
        r = c.add_test_hashes(new.hashes, sender=me)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    os.replace(pending, path)
    st = {"num_pieces": c.call("num_pieces"), "draw_block": c.call("draw_block")}
    if m.name:
        _records(env).update(env.chain.chain_id, m.name, draw_block=st["draw_block"], pieces=st["num_pieces"])
    out = {"market": c.address, "added_pieces": len(new.pieces), "added_samples": len(samples), **st,
           "commitment": str(path), "tx_hash": r.tx_hash, "gas": r.gas_used}
    _emit(fmt, "test pieces committed", out, [
        ("market", m.label), ("added", f"{len(samples)} samples in {len(new.pieces)} pieces"),
        ("pieces now", st["num_pieces"]), ("draw block", st["draw_block"]), ("commitment", str(path)),
        ("gas", f"{r.gas_used:,}"),
    ])


def _rec_vocab(m: _Market) -> Path | None:
    v = m.record.get("vocab")
    return Path(v) if v else None


@bounty_app.command("reveal")
@cli_errors
def reveal(
    ctx: typer.Context,
    market: MarketArg,
    commitment: CommitmentOpt = None,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Provider: reveal the drawn piece (commitment phase; opens participation) or every other piece (reveal phase)."""
    fmt = _fmt(format, as_json)
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    m = open_market(env, market)
    c = m.client
    me = env.account()
    _require_provider(m, me, "reveal test pieces")
    phase = _require_phase(m, ("commitment", "reveal"), "reveal test pieces")
    path = _commitment_path(m, commitment)
    doc, com = _load_commitment(path)
    _check_commitment(m, path, doc, com)
    if phase == "commitment":
        r = c.reveal_initial(com, sender=me)
        index = c.drawn_index()
        ev = _event(c, "PieceRevealed", r) or {}
        out = {"market": c.address, "revealed": "drawn piece", "drawn_index": index, "samples": ev.get("samples"),
               "features": ev.get("features"),
               "phase": _phase_name(c), "tx_hash": r.tx_hash, "gas": r.gas_used}
        _emit(fmt, "drawn piece revealed", out, [
            ("market", m.label), ("drawn piece", f"{index} of {len(com.pieces)} ({ev.get('samples')} samples, public from now on)"),
            ("phase", f"{out['phase']}: contributions are open"), ("gas", f"{r.gas_used:,}"),
        ])
        return
    if env.chain.timestamp() > c.call("reveal_deadline"):
        raise ValidationError(f"market: the reveal deadline {_when(c.call('reveal_deadline'))} has passed; anyone may now `fail` the market")
    receipts = c.reveal_rest(com, sender=me)
    g = _gas(receipts)
    st = c.status()
    out = {"market": c.address, "revealed": "remaining pieces", "pieces": len(com.pieces) - 1, "test_samples": st["test_samples"],
           "phase": st["phase"], "rounds": st["rounds_left"], **g}
    _emit(fmt, "test set revealed", out, [
        ("market", m.label), ("revealed", f"{len(com.pieces) - 1} pieces ({st['test_samples']} test samples scored)"),
        ("phase", f"{st['phase']}: anyone may now run `market bounty process`"), ("bounty rounds", st["rounds_left"]),
        ("gas", _gas_text(g)),
    ])


@bounty_app.command("contribute")
@cli_errors
def contribute(
    ctx: typer.Context,
    market: MarketArg,
    label: Annotated[int, typer.Option("--label", help="The sample's label: 0 or 1.")],
    text: Annotated[Optional[str], typer.Option("--text", help="Raw text, encoded with the market's on-chain encoder.")] = None,
    features: Annotated[Optional[str], typer.Option("--features", help="Feature indices, e.g. 3,17,25 (value 1), or index:value pairs 3:2,17:-1.")] = None,
    value: Annotated[Optional[str], typer.Option("--value", help="Deposit (wei or e.g. 0.001eth). [default: the market's min stake]")] = None,
    vocab: VocabOpt = None,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Contribute one labelled sample with a deposit (participation phase)."""
    from ledgerlearn.markets.bounty import to_features

    fmt = _fmt(format, as_json)
    if (text is None) == (features is None):
        raise typer.BadParameter("give exactly one of --text and --features", param_hint="'--text' / '--features'")
    y = _label(label, "label")
    deposit = parse_amount(value, what="value") if value is not None else None
    feats = parse_features(features) if features is not None else None
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    m = open_market(env, market)
    c = m.client
    me = env.account()
    n = c.call("num_features")
    if feats is None:
        enc = _text_encoder(c.call("encoder"), vocab or _rec_vocab(m))
        feats = to_features(enc.encode(text))
        if not feats:
            info(f"note: no word of the text is known to the encoder {c.call('encoder')!r}: the sample has no features")
    _check_range(feats, n, "features")
    phase = _phase_name(c)
    if phase != "participation":
        hint = " (the provider has not revealed the drawn piece yet)" if phase == "commitment" else ""
        raise ValidationError(f"market: not accepting contributions in the {phase} phase{hint}")
    stake = c.call("min_stake")
    if deposit is None:
        deposit = stake
    elif c.call("allow_greater_deposit"):
        if deposit < stake:
            raise ValidationError(f"value: the deposit {_wei(deposit)} is below the market's min stake {_wei(stake)}")
    elif deposit != stake:
        raise ValidationError(f"value: the deposit must equal the market's min stake {_wei(stake)}, got {_wei(deposit)} (leave --value out)")
    r = c.contribute(feats, y, sender=me, value=deposit)
    ev = _event(c, "Contributed", r) or {}
    out = {"market": c.address, "index": ev.get("index"), "contributor": me, "deposit": deposit, "label": y,
           "features": sorted(feats), "tx_hash": r.tx_hash, "gas": r.gas_used}
    _emit(fmt, "contributed", out, [
        ("market", m.label), ("contribution", ev.get("index")), ("contributor", me), ("deposit", _wei(deposit)),
        ("sample", f"label {y}, {len(feats)} features"), ("gas", f"{r.gas_used:,}"),
    ])


def _simple(ctx, market: str, *, rpc_url, data_dir, account, password_env):
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    m = open_market(env, market)
    return env, m, env.account()


@bounty_app.command("end")
@cli_errors
def end(
    ctx: typer.Context,
    market: MarketArg,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Close participation (anyone, once --min-length passed and --min-contributions were made)."""
    fmt = _fmt(format, as_json)
    env, m, me = _simple(ctx, market, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    c = m.client
    _require_phase(m, ("participation",), "end participation")
    try:
        r = c.end(sender=me)
    except TransactionReverted as exc:
        if exc.reason and "min_length_s" in exc.reason:
            earliest = c.call("participation_start") + c.call("min_length_s")
            raise ValidationError(f"market: participation lasts at least until {_when(earliest)} (min_length_s has not passed)") from None
        if exc.reason and "not enough contributions" in exc.reason:
            raise ValidationError(
                f"market: {c.call('num_contributions')} of the {c.call('min_contributions')} contributions needed so far"
                " (or wait one reveal window after min_length_s)"
            ) from None
        raise
    st = c.status()
    out = {"market": c.address, "phase": st["phase"], "contributions": st["num_contributions"],
           "reveal_deadline": st["reveal_deadline"], "tx_hash": r.tx_hash, "gas": r.gas_used}
    items = [("market", m.label), ("contributions", st["num_contributions"]), ("phase", st["phase"])]
    if st["phase"] == "reveal":
        items.append(("reveal deadline", f"{_when(st['reveal_deadline'])}: the provider must `reveal` the rest by then"))
    else:
        items.append(("note", "no contributions: the provider may withdraw the bounty"))
    items.append(("gas", f"{r.gas_used:,}"))
    _emit(fmt, "participation closed", out, items)


@bounty_app.command("process")
@cli_errors
def process(
    ctx: typer.Context,
    market: MarketArg,
    max_steps: Annotated[int, typer.Option("--max-steps", help="Steps per `process` call (1..4096); each call also stops at its gas budget.")] = 4096,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Drive the reward phase to its end in bounded calls (anyone)."""
    from ledgerlearn.markets.bounty.client import MAX_STEPS

    fmt = _fmt(format, as_json)
    if not 1 <= max_steps <= MAX_STEPS:
        raise ValidationError(f"max-steps: must be in 1..{MAX_STEPS}, got {max_steps}")
    env, m, me = _simple(ctx, market, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    c = m.client
    _require_phase(m, ("reward",), "process rewards")
    receipts: list = []
    try:
        c.process_all(sender=me, max_steps=max_steps, on_receipt=lambda what, r: receipts.append(r))
    finally:
        if receipts and fmt == OutputFormat.table and _phase_name(c) == "reward":
            info(f"note: {len(receipts)} process calls were mined before the error; run `process` again to go on")
    g = _gas(receipts)
    st = c.status()
    out = {"market": c.address, "phase": st["phase"], "calls": g["transactions"], "gas_max": g["gas_max"],
           "gas_total": g["gas_total"], "gas_exact": g["gas_exact"], "passes": st["pass_number"],
           "initial_correct": st["initial_correct"], "test_samples": st["test_samples"], "bounty_left": st["bounty_left"]}
    note = "" if g["gas_exact"] else " (execution estimate)"
    _emit(fmt, "reward phase processed", out, [
        ("market", m.label), ("phase", st["phase"]), ("calls", g["transactions"]),
        ("gas per call", f"max {g['gas_max']:,}, total {g['gas_total']:,}{note}"), ("passes", st["pass_number"]),
        ("initial model", f"{st['initial_correct']} of {st['test_samples']} test samples correct"),
        ("bounty left", _wei(st["bounty_left"])),
    ])


def _withdrawn(c, r) -> int:
    ev = _event(c, "Withdrawn", r)
    return int(ev["amount"]) if ev else 0


@bounty_app.command("withdraw")
@cli_errors
def withdraw(
    ctx: typer.Context,
    market: MarketArg,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Withdraw your final balance (contributors) or what is left of the bounty (provider)."""
    fmt = _fmt(format, as_json)
    env, m, me = _simple(ctx, market, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    c = m.client
    phase = _phase_name(c)
    if phase in ("commitment", "participation", "reward") or (phase == "reveal" and env.chain.timestamp() <= c.call("reveal_deadline")):
        raise ValidationError(f"market: nothing can be withdrawn in the {phase} phase (wait until the market is finished, failed or cancelled)")
    try:
        r = c.withdraw(sender=me)
    except TransactionReverted as exc:
        if exc.reason and "nothing to withdraw" in exc.reason:
            raise ValidationError(f"market: {me} has nothing to withdraw from {m.label} (already withdrawn, or not a participant)") from None
        raise
    amount = _withdrawn(c, r)
    out = {"market": c.address, "account": me, "amount": amount, "phase": _phase_name(c), "tx_hash": r.tx_hash, "gas": r.gas_used}
    _emit(fmt, "withdrawn", out, [("market", m.label), ("account", me), ("amount", _wei(amount)), ("gas", f"{r.gas_used:,}")])


@bounty_app.command("collect")
@cli_errors
def collect(
    ctx: typer.Context,
    market: MarketArg,
    of: Annotated[str, typer.Argument(metavar="ACCOUNT", help="Whose unclaimed balance to take: an address or a dev account index.")],
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Anyone, --claim-wait after the market ended: take a balance its owner has not withdrawn."""
    fmt = _fmt(format, as_json)
    env, m, me = _simple(ctx, market, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    c = m.client
    target = resolve_account(env, of, must_sign=False)
    _require_phase(m, ("finished", "failed", "cancelled"), "collect unclaimed balances")
    try:
        r = c.collect_unclaimed(target, sender=me)
    except TransactionReverted as exc:
        if exc.reason and "any_claim_wait_s" in exc.reason:
            at = c.call("finished_at") + c.call("any_claim_wait_s")
            raise ValidationError(f"market: unclaimed balances may be collected from {_when(at)} on (any_claim_wait_s has not passed)") from None
        if exc.reason and "nothing to collect" in exc.reason:
            raise ValidationError(f"market: {target} has nothing left to collect in {m.label}") from None
        raise
    amount = _withdrawn(c, r)
    out = {"market": c.address, "account": target, "receiver": me, "amount": amount, "tx_hash": r.tx_hash, "gas": r.gas_used}
    _emit(fmt, "collected", out, [("market", m.label), ("from", target), ("to", me), ("amount", _wei(amount)), ("gas", f"{r.gas_used:,}")])


@bounty_app.command("fail")
@cli_errors
def fail_(
    ctx: typer.Context,
    market: MarketArg,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Anyone, after a missed reveal deadline: fail the market (contributors get deposits plus a bounty share)."""
    fmt = _fmt(format, as_json)
    env, m, me = _simple(ctx, market, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    c = m.client
    _require_phase(m, ("reveal",), "declare the market failed")
    try:
        r = c.declare_failed(sender=me)
    except TransactionReverted as exc:
        if exc.reason and "has not passed" in exc.reason:
            raise ValidationError(f"market: the provider may reveal until {_when(c.call('reveal_deadline'))} (the reveal deadline has not passed)") from None
        raise
    ev = _event(c, "Failed", r) or {}
    share = int(ev.get("share_per_contribution", 0))
    out = {"market": c.address, "phase": _phase_name(c), "share_per_contribution": share, "tx_hash": r.tx_hash, "gas": r.gas_used}
    _emit(fmt, "market failed", out, [
        ("market", m.label), ("phase", out["phase"]), ("bounty share", f"{_wei(share)} per contribution, on top of its deposit"),
        ("gas", f"{r.gas_used:,}"),
    ])


@bounty_app.command("cancel")
@cli_errors
def cancel(
    ctx: typer.Context,
    market: MarketArg,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Provider, before participation opens: cancel the market (then `withdraw` the bounty)."""
    fmt = _fmt(format, as_json)
    env, m, me = _simple(ctx, market, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    c = m.client
    _require_provider(m, me, "cancel the market")
    _require_phase(m, ("commitment",), "cancel the market")
    r = c.cancel(sender=me)
    out = {"market": c.address, "phase": _phase_name(c), "bounty_left": c.bounty_left(), "tx_hash": r.tx_hash, "gas": r.gas_used}
    _emit(fmt, "market cancelled", out, [
        ("market", m.label), ("phase", out["phase"]), ("bounty", f"{_wei(out['bounty_left'])}: `withdraw` it now"),
        ("gas", f"{r.gas_used:,}"),
    ])


@bounty_app.command("status")
@cli_errors
def status(
    ctx: typer.Context,
    market: MarketArg,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Show a market: phase, options, progress, balances (and yours, when you contributed)."""
    fmt = _fmt(format, as_json)
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    m = open_market(env, market)
    c = m.client
    me = env.account(must_sign=False)
    st = c.status()
    contributors = c.contributors()
    balances = {a: c.balance_of(a) for a in contributors}
    d: dict[str, Any] = {"name": m.name, **st, "now": env.chain.timestamp(), "block_number": env.chain.block_number}
    d["balances"] = balances
    d["zero_sum_gap"] = st["contract_balance"] - st["bounty_left"] - sum(balances.values())
    d["account"] = me
    d["is_provider"] = checksum(me) == checksum(st["provider"])
    mine = c.call("contributions_of", me)
    if mine or me in balances:
        d["my_contributions"] = mine
        d["my_balance"] = c.balance_of(me)
    if fmt == OutputFormat.json:
        print_json(d)
        return
    items: list[tuple[str, Any]] = [
        ("name", m.name or "-"), ("address", st["address"]), ("phase", st["phase"]), ("provider", st["provider"]),
        ("bounty", _wei(st["bounty"])), ("bounty left", _wei(st["bounty_left"])), ("contract balance", _wei(st["contract_balance"])),
        ("encoder", st["encoder"] or "-"), ("features", st["num_features"]), ("min stake", _wei(st["min_stake"])),
        ("options", ", ".join(f"{k}={'yes' if st[k] else 'no'}" for k in ("group_contributions", "reset_model", "allow_greater_deposit"))),
        ("min length", format_duration(st["min_length_s"])), ("min contributions", st["min_contributions"]),
        ("reveal window", format_duration(st["reveal_window_s"])), ("claim wait", format_duration(st["any_claim_wait_s"])),
        ("test pieces", f"{st['num_pieces']}, drawn: {'-' if st['drawn_index'] is None else st['drawn_index']} (draw block {st['draw_block']}, chain at {env.chain.block_number})"),
        ("contributions", f"{st['num_contributions']} by {len(contributors)} accounts ({st['num_participants']} participants)"),
    ]
    if st["participation_start"]:
        items.append(("participation since", _when(st["participation_start"])))
    if st["reveal_deadline"]:
        items.append(("reveal deadline", _when(st["reveal_deadline"])))
    if st["phase"] in ("reward", "finished") and st["test_samples"]:
        items += [("test samples", st["test_samples"]), ("initial correct", st["initial_correct"]),
                  ("pass", st["pass_number"]), ("rounds left", st["rounds_left"])]
    if st["finished_at"]:
        items.append(("ended at", _when(st["finished_at"])))
    items.append(("zero sum", "ok" if d["zero_sum_gap"] == 0 else f"GAP of {d['zero_sum_gap']} wei"))
    if "my_balance" in d:
        items.append(("you", f"{me}: {mine} contributions, balance {_wei(d['my_balance'])}"))
    elif d["is_provider"]:
        items.append(("you", f"{me}: the provider"))
    print_kv(f"bounty market {m.name or st['address']}", items)
    if balances and len(balances) <= 20:
        print_table("contributors", ["account", "contributions", "balance"], [
            [a, c.call("contributions_of", a), _wei(b)] for a, b in balances.items()
        ])


@bounty_app.command("list")
@cli_errors
def list_(
    ctx: typer.Context,
    format: FormatOpt = OutputFormat.table,
    as_json: JsonOpt = False,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
):
    """List the markets recorded for this chain (by `create --name`)."""
    fmt = _fmt(format, as_json)
    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir)
    chain = env.chain
    out = []
    for name in sorted(_records(env).all(chain.chain_id)):
        try:
            m = open_market(env, name)
            phase = _phase_name(m.client)
            rec = m.record
        except NotFoundError:
            rec = _records(env).all(chain.chain_id)[name]
            phase = "missing on this chain"
        out.append({"name": name, "address": rec.get("address"), "phase": phase, "bounty": rec.get("bounty"),
                    "encoder": rec.get("encoder"), "commitment": rec.get("commitment")})
    if fmt == OutputFormat.json:
        print_json(out)
        return
    if not out:
        console().print(f"no markets recorded for chain {chain.chain_id}; create one with `ledgerlearn market bounty create --name ...`")
        return
    print_table(f"bounty markets on chain {chain.chain_id}", ["name", "address", "phase", "bounty", "encoder"], [
        [d["name"], d["address"], d["phase"], _wei(int(d["bounty"] or 0)), d["encoder"]] for d in out
    ])
