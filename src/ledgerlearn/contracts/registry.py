"""Which compiled contract serves which (model kind, incentive).

Entry contracts are generated from one template
(:mod:`ledgerlearn.contracts.entry.template`) and compiled on demand through
:mod:`ledgerlearn.contracts.compiler` (cached on disk)::

    from ledgerlearn.contracts import registry
    art = registry.entry_artifact("sparse_perceptron", "drt")
    registry.entry_name("sparse_perceptron", "drt")      # "SparsePerceptronDrt"
    registry.factory_artifact()
"""

from __future__ import annotations

from dataclasses import dataclass

from ledgerlearn.contracts.compiler import CONTRACTS_DIR, Artifact, compile_file, compile_source
from ledgerlearn.contracts.entry.template import render
from ledgerlearn.errors import NotFoundError, ValidationError


@dataclass(frozen=True)
class ModelKind:
    """A model module and what the entry contract says about it."""

    kind: str  # module file stem
    module: str  # import path below contracts/, e.g. "models.sparse_perceptron"
    model_type: str  # the spec's type name, returned by model_type()
    title: str  # PascalCase, used in contract names

    @property
    def source_path(self):
        return CONTRACTS_DIR / (self.module.replace(".", "/") + ".vy")


#: The five model kinds of the spec, by module name.
MODEL_KINDS: dict[str, ModelKind] = {
    k.kind: k
    for k in (
        ModelKind("sparse_perceptron", "models.sparse_perceptron", "sparse perceptron", "SparsePerceptron"),
        ModelKind("dense_perceptron", "models.dense_perceptron", "dense perceptron", "DensePerceptron"),
        ModelKind("naive_bayes", "models.naive_bayes", "naive bayes", "NaiveBayes"),
        ModelKind("dense_centroid", "models.dense_centroid", "nearest centroid classifier", "DenseCentroid"),
        ModelKind("sparse_centroid", "models.sparse_centroid", "sparse nearest centroid classifier", "SparseCentroid"),
    )
}

#: Test-only kinds (not exported, not deployable through the CLI).
TEST_KINDS: dict[str, ModelKind] = {
    "stub": ModelKind("stub", "test.stub_model", "sparse perceptron", "StubModel"),
}

#: Incentive mechanisms: module stem -> PascalCase title.
INCENTIVES: dict[str, str] = {"drt": "Drt", "points": "Points"}

#: Accepted spellings of incentive names.
_INCENTIVE_ALIASES = {
    "drt": "drt",
    "deposit-refund-take": "drt",
    "deposit_refund_take": "drt",
    "stakeable": "drt",
    "points": "points",
}

#: Model type names of model files (aliases included) -> kind.
_TYPE_TO_KIND = {
    "sparse perceptron": "sparse_perceptron",
    "dense perceptron": "dense_perceptron",
    "perceptron": "dense_perceptron",
    "naive bayes": "naive_bayes",
    "nearest centroid classifier": "dense_centroid",
    "dense nearest centroid classifier": "dense_centroid",
    "sparse nearest centroid classifier": "sparse_centroid",
}


def normalize_incentive(incentive: str) -> str:
    """``"drt"`` or ``"points"`` from any accepted spelling (ValidationError otherwise)."""
    key = str(incentive).strip().lower()
    try:
        return _INCENTIVE_ALIASES[key]
    except KeyError:
        raise ValidationError(f"incentive: expected one of {sorted(INCENTIVES)}, got {incentive!r}") from None


def kind_for_model_type(model_type: str) -> str:
    """Model kind for a model file's ``type`` (aliases accepted)."""
    try:
        return _TYPE_TO_KIND[str(model_type).strip().lower()]
    except KeyError:
        raise ValidationError(f"type: unknown model type {model_type!r}; expected one of {sorted(_TYPE_TO_KIND)}") from None


def model_kind(kind: str) -> ModelKind:
    try:
        return MODEL_KINDS.get(kind) or TEST_KINDS[kind]
    except KeyError:
        raise ValidationError(f"kind: unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}") from None


def entry_name(kind: str, incentive: str) -> str:
    """Contract name of an entry contract, e.g. ``SparsePerceptronDrt``."""
    return model_kind(kind).title + INCENTIVES[normalize_incentive(incentive)]


def entries(*, available_only: bool = False) -> list[tuple[str, str]]:
    """Every (kind, incentive) pair of the spec (10); optionally only those whose model module exists."""
    out = []
    for kind, mk in MODEL_KINDS.items():
        if available_only and not mk.source_path.exists():
            continue
        for inc in INCENTIVES:
            out.append((kind, inc))
    return out


def entry_source(kind: str, incentive: str) -> str:
    """Vyper source of the entry contract for (kind, incentive), generated from the template."""
    mk = model_kind(kind)
    inc = normalize_incentive(incentive)
    if not mk.source_path.exists():
        raise NotFoundError(f"contract: the model module {mk.module!r} does not exist ({mk.source_path})")
    return render(
        model_import=mk.module,
        model_source=mk.source_path.read_text(),
        incentive=inc,
        incentive_source=(CONTRACTS_DIR / "incentives" / f"{inc}.vy").read_text(),
        model_type=mk.model_type,
        title=f"{mk.model_type} with {inc}",
    )


def entry_artifact(kind: str, incentive: str) -> Artifact:
    """Compiled entry contract (cached on disk by source hash)."""
    name = entry_name(kind, incentive)
    return compile_source(entry_source(kind, incentive), name, path=f"entry/{name}.vy")


def factory_artifact() -> Artifact:
    """Compiled clone factory (``factory.vy``)."""
    return compile_file("factory.vy", "Factory")
