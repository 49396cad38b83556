"""``ledgerlearn deploy``: deploy a shared model from a model file or a data set."""

from __future__ import annotations

import csv
import importlib
import json
import random
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ledgerlearn.cli.common import (
    AccountOpt,
    DataDirOpt,
    FormatOpt,
    OutputFormat,
    PasswordEnvOpt,
    RpcUrlOpt,
    cli_errors,
    console,
    info,
    print_json,
    print_kv,
    with_env,
)
from ledgerlearn.encoders import (
    IMDB_VOCAB,
    MURMURHASH3,
    NORMALIZE,
    canonical_model_type,
    get_encoder,
    input_kind,
    parse_vector,
)
from ledgerlearn.errors import NotFoundError, ValidationError
from ledgerlearn.shared_models.status import format_duration, format_eth, parse_amount, parse_duration
from ledgerlearn.shared_models.publish import MAX_EVALUATION, default_encoder, existing_model_blocks, publish_model
from ledgerlearn.store.deployments import validate_name

#: Defaults of the reference's IMDB demo: refund after 1 day, anyone may take after 9 days.
DEFAULT_REFUND_WAIT = "1d"
DEFAULT_OWNER_CLAIM_WAIT = "8d"
DEFAULT_ANY_CLAIM_WAIT = "9d"
#: With 1e15 wei: 3.6 ETH at dt=0, 0.06 ETH an hour after the last contribution (spec worked values).
DEFAULT_COST_WEIGHT = "1e15"


# ------------------------------------------------------------- model mirrors
def mirror_class(model_type: str):
    """The off-chain mirror class of a model type (``ledgerlearn.models.<kind>``)."""
    from ledgerlearn.contracts import registry

    kind = registry.kind_for_model_type(model_type)
    mk = registry.model_kind(kind)
    try:
        module = importlib.import_module(f"ledgerlearn.models.{kind}")
    except ModuleNotFoundError:
        raise NotFoundError(f"model-type: no off-chain model for {model_type!r} yet (ledgerlearn.models.{kind})") from None
    cls = getattr(module, mk.title, None)
    if cls is None:
        raise NotFoundError(f"model-type: ledgerlearn.models.{kind} has no class {mk.title}")
    return cls


def load_model_file(path: Path):
    """A mirror model from a reference JSON model file."""
    try:
        from ledgerlearn.models import files
    except ImportError:
        files = None
    for fn_name in ("load_model", "read_model", "load"):
        fn = getattr(files, fn_name, None) if files is not None else None
        if callable(fn):
            return fn(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValidationError(f"model-file: {path} is not valid JSON ({exc})") from exc
    if not isinstance(d, dict) or "type" not in d:
        raise ValidationError(f"model-file: {path} has no 'type' (not a model file)")
    return mirror_class(d["type"]).from_dict(d)


def _construct(cls, **kwargs):
    """Build a mirror with the keyword arguments its constructor accepts."""
    import inspect

    params = inspect.signature(cls).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params and v is not None}
    return cls(**kwargs)


# ------------------------------------------------------------------ data sets
def read_rows(path: Path) -> list[dict]:
    """Rows of a CSV, JSON (array of objects) or JSON-lines file."""
    if not path.is_file():
        raise NotFoundError(f"from-data: no file at {str(path)!r}")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix in (".json",):
            data = json.loads(text)
            if isinstance(data, dict):
                data = data.get("data") or data.get("rows") or []
        elif suffix in (".jsonl", ".ndjson"):
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = list(csv.DictReader(text.splitlines()))
    except ValueError as exc:
        raise ValidationError(f"from-data: {path} is not valid ({exc})") from exc
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise ValidationError(f"from-data: {path} must hold a non-empty list of records (objects or CSV rows)")
    return data


def _row_input(row: dict, text_column: str, x_column: str, label_column: str):
    if text_column in row and row[text_column] is not None and not isinstance(row[text_column], list):
        return "text", str(row[text_column])
    if x_column in row:
        return "vector", parse_vector(row[x_column])
    feats = [v for k, v in row.items() if k != label_column]
    try:
        return "vector", [float(v) for v in feats]
    except (TypeError, ValueError):
        raise ValidationError(
            f"from-data: a record has neither a {text_column!r} nor an {x_column!r} column, nor only numeric features"
        ) from None


def _classes_and_labels(raw_labels: list, classes_opt: str | None) -> tuple[list[str], list[int]]:
    if classes_opt:
        classes = [c.strip() for c in classes_opt.split(",") if c.strip()]
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise ValidationError(f"classes: expected at least two distinct comma-separated names, got {classes_opt!r}")
    else:
        classes = []
    labels = []
    as_ints = all(isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit()) for v in raw_labels)
    if not classes:
        if as_ints:
            n = max(int(v) for v in raw_labels) + 1
            classes = [str(i) for i in range(max(n, 2))]
        else:
            classes = sorted({str(v).strip() for v in raw_labels})
    for v in raw_labels:
        s = str(v).strip()
        if s in classes:
            labels.append(classes.index(s))
        elif s.isdigit() and int(s) < len(classes):
            labels.append(int(s))
        else:
            raise ValidationError(f"label: {v!r} in the data is not one of the classes {classes}")
    if len(classes) < 2:
        raise ValidationError("from-data: the data has only one class; a classifier needs two at least")
    return classes, labels


def train_from_data(
    path: Path, *, model_type: str | None, encoder_name: str | None, vocab: Path | None, fraction: float, seed: int,
    text_column: str, x_column: str, label_column: str, classes_opt: str | None, epochs: int,
):
    """Train an initial mirror on a fraction of a data set.

    Returns (mirror, encoder name, report, evaluation): the evaluation set is
    the held-out rest, encoded (None when everything was trained on).
    """
    if not 0 < fraction <= 1:
        raise ValidationError(f"fraction: must be in (0, 1], got {fraction}")
    rows = read_rows(path)
    if any(label_column not in r for r in rows):
        raise ValidationError(f"label-column: some records of {path} have no {label_column!r} field")
    kinds, inputs = set(), []
    for r in rows:
        k, v = _row_input(r, text_column, x_column, label_column)
        kinds.add(k)
        inputs.append(v)
    if len(kinds) != 1:
        raise ValidationError(f"from-data: {path} mixes text and vector records")
    kind = kinds.pop()
    classes, labels = _classes_and_labels([r[label_column] for r in rows], classes_opt)
    if model_type is None:
        if kind == "text":
            model_type = "sparse perceptron" if len(classes) == 2 else "naive bayes"
        else:
            model_type = "dense perceptron" if len(classes) == 2 else "nearest centroid classifier"
    model_type = canonical_model_type(model_type)
    dense = input_kind(model_type) == "dense"
    if dense != (kind == "vector"):
        raise ValidationError(f"model-type: a {model_type!r} cannot learn from {kind} records")
    if encoder_name is None:
        encoder_name = NORMALIZE if dense else (IMDB_VOCAB if vocab else MURMURHASH3)
    enc = get_encoder(encoder_name, vocab=vocab)
    X = [enc.encode(v, model_type) for v in inputs]
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_train = max(1, round(len(rows) * fraction))
    train, rest = order[:n_train], order[n_train:]
    kwargs: dict[str, Any] = {"classes": classes}
    if dense:
        kwargs["num_features"] = len(X[0])
        kwargs["weights"] = [0] * len(X[0])  # a dense perceptron sizes itself from its weights
    elif encoder_name == IMDB_VOCAB or getattr(enc, "vocab", None):
        kwargs["num_features"] = max(enc.vocab.values()) + 1
    cls = mirror_class(model_type)
    mirror = _construct(cls, **kwargs)
    Xt, yt = [X[i] for i in train], [labels[i] for i in train]
    fit = getattr(mirror, "fit", None)
    if callable(fit):
        try:
            mirror = fit(Xt, yt, epochs=epochs) or mirror
        except TypeError:
            mirror = fit(Xt, yt) or mirror
    else:
        mirror.partial_fit(Xt, yt)
    report = {"records": len(rows), "trained_on": len(train), "train_accuracy": mirror.score(Xt, yt)}
    evaluation = None
    if rest:
        report["held_out_accuracy"] = mirror.score([X[i] for i in rest], [labels[i] for i in rest])
        kept = rest[:MAX_EVALUATION]
        evaluation = ([X[i] for i in kept], [labels[i] for i in kept])
    return mirror, encoder_name, report, evaluation


def _infrastructure_kwarg(fn, infra: dict) -> dict:
    """Pass the recorded factory/implementations to reuse them, if ``fn`` takes them."""
    import inspect

    if not infra:
        return {}
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    return {"infrastructure": infra} if "infrastructure" in params else {}


# --------------------------------------------------------------------- command
@cli_errors
def deploy(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Name to record the model under (and its on-chain name).")],
    model_file: Annotated[Optional[Path], typer.Option("--model-file", help="Model file in the reference JSON format.")] = None,
    from_data: Annotated[Optional[Path], typer.Option("--from-data", help="CSV/JSON/JSONL data set: train an initial model on a fraction.")] = None,
    fraction: Annotated[float, typer.Option("--fraction", help="Fraction of --from-data used to train the initial model.")] = 0.08,
    model_type: Annotated[Optional[str], typer.Option("--model-type", help="Model type for --from-data (e.g. 'sparse perceptron', 'naive bayes').")] = None,
    classes: Annotated[Optional[str], typer.Option("--classes", help="Class names for --from-data, comma-separated, in index order.")] = None,
    text_column: Annotated[str, typer.Option("--text-column", help="Text field of --from-data records.")] = "text",
    x_column: Annotated[str, typer.Option("--x-column", help="Vector field (JSON list) of --from-data records.")] = "x",
    label_column: Annotated[str, typer.Option("--label-column", help="Label field of --from-data records.")] = "label",
    epochs: Annotated[int, typer.Option("--epochs", help="Training passes over the --from-data fraction.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Shuffle seed for picking the --from-data fraction.")] = 0,
    incentive: Annotated[str, typer.Option("--incentive", help="Incentive mechanism: drt (deposit, refund, take) or points.")] = "drt",
    refund_wait: Annotated[str, typer.Option("--refund-wait", help="Wait before a refund or report (e.g. 1d, 3h, 90).")] = DEFAULT_REFUND_WAIT,
    owner_claim_wait: Annotated[str, typer.Option("--owner-claim-wait", help="Wait before the owner may take a deposit.")] = DEFAULT_OWNER_CLAIM_WAIT,
    any_claim_wait: Annotated[str, typer.Option("--any-claim-wait", help="Wait before anyone may take a deposit.")] = DEFAULT_ANY_CLAIM_WAIT,
    cost_weight: Annotated[Optional[str], typer.Option("--cost-weight", help=f"DRT deposit scale in wei (e.g. 1e15, 0.001eth). [default: {DEFAULT_COST_WEIGHT} for drt, 0 for points]")] = None,
    description: Annotated[str, typer.Option("--description", help="Description stored on chain.")] = "",
    encoder: Annotated[Optional[str], typer.Option("--encoder", help="Input encoder named on chain: none, MurmurHash3, 'IMDB vocab', 'Multiply by 1E9, then round', ...")] = None,
    vocab: Annotated[Optional[Path], typer.Option("--vocab", help="Vocabulary JSON (word -> index) for a vocabulary encoder.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing record with the same name.")] = False,
    format: FormatOpt = OutputFormat.table,
    rpc_url: RpcUrlOpt = None,
    data_dir: DataDirOpt = None,
    account: AccountOpt = None,
    password_env: PasswordEnvOpt = None,
):
    """Deploy a shared model from a model file or from a data set, with an incentive mechanism."""
    # ---- validate everything before anything is sent
    validate_name(name)
    if (model_file is None) == (from_data is None):
        raise typer.BadParameter("give exactly one of --model-file and --from-data", param_hint="'--model-file' / '--from-data'")
    from ledgerlearn.contracts.registry import normalize_incentive

    inc = normalize_incentive(incentive)
    rw = parse_duration(refund_wait, what="refund-wait")
    ow = parse_duration(owner_claim_wait, what="owner-claim-wait")
    aw = parse_duration(any_claim_wait, what="any-claim-wait")
    if not rw <= ow <= aw:
        raise ValidationError(
            f"refund-wait, owner-claim-wait, any-claim-wait: must be in this order (got {format_duration(rw)}, {format_duration(ow)}, {format_duration(aw)})"
        )
    cw = parse_amount(cost_weight if cost_weight is not None else (DEFAULT_COST_WEIGHT if inc == "drt" else 0), what="cost-weight")
    if inc == "points" and cw:
        raise ValidationError("cost-weight: a points model takes no deposit; leave --cost-weight out")
    if vocab is not None:
        vocab = vocab.expanduser().resolve()
        if not vocab.is_file():
            raise NotFoundError(f"vocab: no vocabulary file at {str(vocab)!r}")
    feature_indices = None
    report = None
    evaluation = None
    if model_file is not None:
        if not model_file.is_file():
            raise NotFoundError(f"model-file: no file at {str(model_file)!r}")
        mirror = load_model_file(model_file)
        try:
            raw = json.loads(model_file.read_text(encoding="utf-8"))
        except ValueError:
            raw = {}
        raw = raw if isinstance(raw, dict) else {}
        feature_indices = raw.get("featureIndices") or getattr(mirror, "feature_indices_", None)
    else:
        mirror, encoder, report, evaluation = train_from_data(
            from_data, model_type=model_type, encoder_name=encoder, vocab=vocab, fraction=fraction, seed=seed,
            text_column=text_column, x_column=x_column, label_column=label_column, classes_opt=classes, epochs=epochs,
        )
    mtype = canonical_model_type(mirror.model_type)
    get_encoder(encoder if encoder is not None else default_encoder(mtype, vocab=vocab), vocab=vocab)

    env = with_env(ctx, rpc_url=rpc_url, data_dir=data_dir, account=account, password_env=password_env)
    chain = env.chain
    owner = env.account()
    existing_model_blocks(chain, env.deployments, name, replace=replace)  # a live model of that name: an error
    if env.deployments.find(chain.chain_id, name) is not None and not replace:
        info(f"note: replacing the record of {name!r}: its contract is not on this chain")

    if format == OutputFormat.table:
        console().print(f"deploying {mtype!r} with {inc!r} as {name!r} from {owner} ...")
    pub = publish_model(
        chain, env.deployments, mirror, name=name, owner=owner, incentive=inc, refund_wait=rw, owner_claim_wait=ow,
        any_claim_wait=aw, cost_weight=cw, description=description, encoder=encoder, vocab=vocab,
        feature_indices=feature_indices, replace=True, evaluation=evaluation,
        extra={"training": report} if report else None,
    )
    dep, receipts, exact = pub.deployment, pub.result.receipts, pub.gas_exact
    if format == OutputFormat.json:
        print_json({**dep.to_json(), "gas_exact": exact, "chain_id": chain.chain_id})
        return
    items = [
        ("name", name), ("address", dep.address), ("type", mtype), ("incentive", inc), ("encoder", dep.encoder + (" (default; choose with --encoder / --vocab)" if pub.encoder_defaulted else "")),
        ("transactions", len(receipts)), ("gas", f"{dep.gas_total:,}" + ("" if exact else " (execution estimate)")),
        ("recorded in", str(env.deployments.path(chain.chain_id))),
    ]
    if inc == "drt":
        items.insert(5, ("waits", f"refund {format_duration(rw)}, owner {format_duration(ow)}, anyone {format_duration(aw)}"))
        items.insert(6, ("cost weight", f"{cw} wei (deposit at most {format_eth(cw * 3600)})"))
    if report:
        acc = f"{report['train_accuracy']:.3f} on {report['trained_on']} training records"
        if "held_out_accuracy" in report:
            acc += f", {report['held_out_accuracy']:.3f} on the other {report['records'] - report['trained_on']}"
        items.append(("initial model", acc))
    print_kv("deployed", items)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
