"""Entry contracts: generated from one template, ABI as agreed, clones via the factory, deployment, gas."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from incentive_harness import IMDB_X, POS, World, expect_revert, key_of  # noqa: E402

from ledgerlearn.chain.contract import Contract  # noqa: E402
from ledgerlearn.chain.local import LocalChain  # noqa: E402
from ledgerlearn.contracts import registry  # noqa: E402
from ledgerlearn.errors import ValidationError  # noqa: E402
from ledgerlearn.models import DenseCentroid, DensePerceptron, NaiveBayes, SparseCentroid, SparsePerceptron, normalize  # noqa: E402
from ledgerlearn.shared_models import contribution_key  # noqa: E402
from ledgerlearn.shared_models.deploy import FACTORY_KEY, deploy_shared_model, implementation_key  # noqa: E402

S = 10**9

#: The entry ABI of the interface document (every kind; x is uint256[] or int256[]).
VIEWS = {
    "predict": (["x"], ["uint256"]), "next_deposit": ([], ["uint256"]), "name": ([], ["string"]),
    "description": ([], ["string"]), "encoder": ([], ["string"]), "model_type": ([], ["string"]),
    "incentive": ([], ["string"]), "num_classes": ([], ["uint256"]), "class_name": (["uint256"], ["string"]),
    "owner": ([], ["address"]), "finalized": ([], ["bool"]), "refund_wait": ([], ["uint256"]),
    "owner_claim_wait": ([], ["uint256"]), "any_claim_wait": ([], ["uint256"]), "cost_weight": ([], ["uint256"]),
    "last_update": ([], ["uint256"]), "good_count": (["address"], ["uint256"]), "total_good": ([], ["uint256"]),
    "points": (["address"], ["uint256"]), "contribution": (["bytes32"], ["uint256"] * 4),
    "has_claimed": (["bytes32", "address"], ["bool"]), "pending_withdrawal": (["address"], ["uint256"]),
}
TXS = {
    "add_data": (["x", "uint256"], "payable"), "refund": (["x", "uint256", "uint256"], "nonpayable"),
    "report": (["x", "uint256", "uint256", "address"], "nonpayable"), "withdraw": ([], "nonpayable"),
    "finalize": ([], "nonpayable"),
}
EVENTS = {
    "DataAdded": [("key", "bytes32", True), ("author", "address", True), ("label", "uint256", False),
                  ("added_time", "uint256", False), ("deposit", "uint256", False), ("x", "x", False)],
    "Refund": [("key", "bytes32", True), ("author", "address", True), ("amount", "uint256", False)],
    "Report": [("key", "bytes32", True), ("reporter", "address", True), ("amount", "uint256", False)],
}
DRT_EVENTS = {
    "Withdrawal": [("account", "address", True), ("amount", "uint256", False)],
    "PaymentDeferred": [("account", "address", True), ("amount", "uint256", False)],
}


def small_mirror(kind: str):
    """A tiny model of each kind and an input for it."""
    if kind == "sparse_perceptron":
        return SparsePerceptron(["Negative", "Positive"], num_features=100, weights={1: S, 2: -S}, learning_rate=S), [1]
    if kind == "dense_perceptron":
        return DensePerceptron(["No", "Yes"], [S, -S, 0], 0, S), normalize([1.0, 0.0, 0.0])
    if kind == "naive_bayes":
        return NaiveBayes(["A", "B", "C"], num_features=10, smoothing=S, class_count=[1, 2, 3],
                          feature_count=[{0: 2}, {1: 3}, {2: 1}]), [0, 0, 1]
    if kind == "dense_centroid":
        return DenseCentroid(["A", "B"], [[S, 0], [0, S]], [1, 1]), normalize([1.0, 0.1])
    if kind == "sparse_centroid":
        return SparseCentroid.from_centroids(["A", "B"], [{0: S}, {1: S}], [1, 1], num_features=10), [0]
    raise ValueError(kind)


def x_type(kind: str) -> str:
    return "int256[]" if kind.startswith("dense") else "uint256[]"


@pytest.fixture(scope="module")
def chain():
    return LocalChain()


# ------------------------------------------------------------------- the ABI
@pytest.mark.parametrize("kind,incentive", registry.entries())
def test_entry_abi_matches_the_interface(kind, incentive):
    abi = registry.entry_artifact(kind, incentive).abi
    xt = x_type(kind)
    fns = {i["name"]: i for i in abi if i["type"] == "function"}
    assert len(fns) == len([i for i in abi if i["type"] == "function"]), "no overloads"
    for name, (ins, outs) in VIEWS.items():
        f = fns[name]
        assert [i["type"] for i in f["inputs"]] == [xt if t == "x" else t for t in ins], name
        assert [o["type"] for o in f["outputs"]] == outs, name
        assert f["stateMutability"] == "view", name
    for name, (ins, mut) in TXS.items():
        f = fns[name]
        assert [i["type"] for i in f["inputs"]] == [xt if t == "x" else t for t in ins], name
        assert f["stateMutability"] == mut, name
        assert f["outputs"] == [], name
    events = {i["name"]: i for i in abi if i["type"] == "event"}
    for name, inputs in {**EVENTS, **(DRT_EVENTS if incentive == "drt" else {})}.items():
        got = [(i["name"], i["type"], i["indexed"]) for i in events[name]["inputs"]]
        assert got == [(n, xt if t == "x" else t, ix) for n, t, ix in inputs], name
    assert not [i for i in abi if i["type"] == "constructor" and i["inputs"]]
    init = fns["initialize"]
    assert [i["type"] for i in init["inputs"][:8]] == ["address", "string", "string", "string"] + ["uint256"] * 4


def test_sources_come_from_one_template():
    srcs = {registry.entry_name(k, i): registry.entry_source(k, i) for k, i in registry.entries()}
    assert len(srcs) == 10
    for name, src in srcs.items():
        assert src.startswith("# pragma version ~=0.4.3\n# @generated")
        assert "import incentives." in src and "import models." in src


def test_unknown_kind_and_incentive():
    with pytest.raises(ValidationError, match="kind"):
        registry.entry_source("linear_regression", "drt")
    with pytest.raises(ValidationError, match="incentive"):
        registry.entry_name("sparse_perceptron", "bounty")
    assert registry.normalize_incentive("Deposit-Refund-Take") == "drt"
    assert registry.kind_for_model_type("perceptron") == "dense_perceptron"
    assert registry.kind_for_model_type("Nearest Centroid Classifier") == "dense_centroid"


# ------------------------------------------------------- every kind, deployed
@pytest.mark.parametrize("kind,incentive", registry.entries())
def test_every_entry_contract_works(chain, kind, incentive):
    mirror, x = small_mirror(kind)
    owner, alice = chain.accounts[0], chain.accounts[1]
    sid = chain.snapshot()
    try:
        res = deploy_shared_model(
            chain, mirror, incentive=incentive, name=f"{kind} {incentive}", description="a test model", encoder="none",
            owner=owner, refund_wait=10, owner_claim_wait=20, any_claim_wait=30, cost_weight=S if incentive == "drt" else 0,
        )
        m = Contract(chain, res.address, registry.entry_artifact(kind, incentive).abi)
        assert m.call("model_type") == registry.model_kind(kind).model_type
        assert m.call("incentive") == incentive
        assert (m.call("name"), m.call("description"), m.call("encoder")) == (f"{kind} {incentive}", "a test model", "none")
        assert m.call("num_classes") == mirror.num_classes
        assert [m.call("class_name", i) for i in range(mirror.num_classes)] == list(mirror.classes_)
        assert m.call("owner") == owner and m.call("finalized")
        assert (m.call("refund_wait"), m.call("owner_claim_wait"), m.call("any_claim_wait")) == (10, 20, 30)
        assert m.call("cost_weight") == (S if incentive == "drt" else 0)
        p = m.call("predict", x)
        assert p == mirror.predict(x)
        label = (p + 1) % mirror.num_classes
        r = m.transact("add_data", x, label, sender=alice, value=m.call("next_deposit"))
        mirror.update(x, label)
        ev = m.events("DataAdded", r.logs)[0]
        assert list(ev["x"]) == list(x) and ev["label"] == label and ev["author"] == alice
        assert ev["key"] == contribution_key(x, label, ev["added_time"], alice, model_type=mirror.model_type)
        assert ev["key"] == key_of(x, label, ev["added_time"], alice, x_type(kind))
        assert m.call("predict", x) == mirror.predict(x)
        assert m.call("contribution", ev["key"])[3] == ev["added_time"]
    finally:
        chain.revert(sid)


# ------------------------------------------------------ clones and the factory
@pytest.fixture(scope="module")
def world():
    return World("drt")


def test_clone_is_an_eip1167_proxy(world):
    code = world.chain.code(world.model.address)
    impl = bytes.fromhex(world.result.implementation[2:])
    assert code == bytes.fromhex("363d3d373d3d3d363d73") + impl + bytes.fromhex("5af43d82803e903d91602b57fd5bf3")
    created = world.factory.events("ModelCreated")
    assert [(e["implementation"], e["model"], e["creator"]) for e in created] == [
        (world.result.implementation, world.model.address, world.owner)
    ]


def test_implementation_is_locked(world):
    impl = Contract(world.chain, world.result.implementation, world.artifact.abi)
    assert impl.call("owner") == impl.address and not impl.call("finalized")
    expect_revert(
        lambda: impl.transact("initialize", world.alice, "n", "d", "none", 0, 0, 0, 0, ["a", "b"], 0, 1, sender=world.alice),
        "setup: already initialized",
    )
    expect_revert(lambda: impl.transact("add_data", POS, 1, sender=world.alice, value=10**19), "setup: model is not finalized")
    expect_revert(lambda: impl.transact("finalize", sender=world.alice), "setup: only the owner")
    expect_revert(lambda: impl.transact("load_weights", 0, [1], sender=world.alice), "setup: only the owner")


def test_factory_create_is_atomic_and_checked(world):
    sid = world.chain.snapshot()
    n = len(world.factory.events("ModelCreated"))
    bad = world.model.abi.encode_call("initialize", (world.owner, "n", "d", "none", 5, 1, 9, 0, ["a", "b"], 0, 1))[1]
    expect_revert(lambda: world.factory.transact("create", world.result.implementation, bad, sender=world.alice), "drt: refund_wait")
    assert len(world.factory.events("ModelCreated")) == n
    expect_revert(lambda: world.factory.transact("create", world.alice, bad, sender=world.alice), "factory: implementation has no code")
    expect_revert(lambda: world.factory.transact("register", world.result.implementation, sender=world.alice), "factory: already registered")
    expect_revert(lambda: world.factory.transact("register", world.alice, sender=world.alice), "factory: implementation has no code")
    assert world.factory.call("version") == "ledgerlearn-1"
    world.chain.revert(sid)


def test_setup_phase_guards():
    w = World("drt", mirror=None)
    chain = w.chain
    res = deploy_shared_model(
        chain, w.mirror, incentive="drt", name="unfinished", owner=w.owner, cost_weight=1, finalize=False,
        infrastructure=w.result.infrastructure,
    )
    assert res.infrastructure_gas == 0
    m = Contract(chain, res.address, w.artifact.abi)
    assert not m.call("finalized")
    expect_revert(lambda: m.transact("add_data", POS, 1, sender=w.alice, value=10**19), "setup: model is not finalized")
    expect_revert(lambda: m.transact("load_weights", 0, [5], sender=w.alice), "setup: only the owner")
    expect_revert(lambda: m.transact("finalize", sender=w.alice), "setup: only the owner")
    m.transact("load_weights", 0, [5], sender=w.owner)
    r = m.transact("finalize", sender=w.owner)
    assert m.events("Finalized", r.logs)[0]["owner"] == w.owner
    expect_revert(lambda: m.transact("load_weights", 0, [7], sender=w.owner), "setup: already finalized")
    expect_revert(lambda: m.transact("finalize", sender=w.owner), "setup: already finalized")
    m.transact("add_data", POS, 1, sender=w.alice, value=m.call("next_deposit"))


# ------------------------------------------------------------------ deployment
def test_deploy_reuses_infrastructure(world):
    chain = world.chain
    sid = chain.snapshot()
    r2 = deploy_shared_model(chain, world.mirror, incentive="drt", name="second", owner=world.alice, cost_weight=1)
    assert r2.infrastructure_gas == 0 and r2.factory == world.result.factory
    assert r2.implementation == world.result.implementation
    assert r2.gas_total == sum(r.gas_used for r in r2.receipts) == r2.model_gas
    assert world.result.infrastructure_gas > 0 and world.result.gas_total > r2.gas_total
    assert set(world.result.infrastructure) == {FACTORY_KEY, implementation_key("stub", "drt")}
    # the other incentive needs its own implementation, not another factory
    r3 = deploy_shared_model(chain, world.mirror, incentive="points", name="third", owner=world.alice)
    assert r3.factory == world.result.factory and r3.infrastructure_gas > 0
    assert r3.implementation != world.result.implementation
    chain.revert(sid)


def test_deploy_verifies_known_addresses(world):
    chain = world.chain
    sid = chain.snapshot()
    bogus = {FACTORY_KEY: world.alice, implementation_key("stub", "drt"): world.bob}
    fresh = LocalChain()  # no memo for this chain object
    res = deploy_shared_model(fresh, world.mirror, incentive="drt", name="x", owner=fresh.accounts[0], infrastructure=bogus)
    assert res.factory != world.alice and res.implementation != world.bob
    again = deploy_shared_model(fresh, world.mirror, incentive="drt", name="y", owner=fresh.accounts[1], infrastructure=res.infrastructure)
    assert again.infrastructure_gas == 0
    chain.revert(sid)


def test_deploy_validates_arguments(world):
    kw = dict(incentive="drt", name="n", owner=world.owner)
    with pytest.raises(ValidationError, match="incentive"):
        deploy_shared_model(world.chain, world.mirror, **{**kw, "incentive": "bounty"})
    with pytest.raises(ValidationError, match="name"):
        deploy_shared_model(world.chain, world.mirror, **{**kw, "name": "x" * 129})
    with pytest.raises(ValidationError, match="cost_weight"):
        deploy_shared_model(world.chain, world.mirror, **kw, cost_weight=-1)
    with pytest.raises(ValidationError, match="owner"):
        deploy_shared_model(world.chain, world.mirror, **{**kw, "owner": "0x" + "00" * 20})
    with pytest.raises(ValidationError, match="mirror_model"):
        deploy_shared_model(world.chain, object(), **kw)


# ------------------------------------------------------------------------ gas
def test_gas_imdb_sized_sparse_perceptron():
    """The reference's IMDB benchmark shape: 1000 weights, the 20-token sample, waits 0, cost_weight 1e9.

    Regression guard; the measured figures are in docs/contracts-interface.md.
    """
    rng = random.Random(7)
    mirror = SparsePerceptron(["Negative", "Positive"], num_features=1000,
                              weights=[rng.choice((-1, 1)) * rng.randint(S // 100, 5 * S) for _ in range(1000)],
                              intercept=5 * S, learning_rate=S // 2)
    chain = LocalChain()
    a, b, c, d = chain.accounts[:4]
    first = deploy_shared_model(chain, mirror, incentive="drt", name="IMDB sentiment", description="1000-word perceptron",
                                encoder="IMDB vocab", owner=a, cost_weight=S)
    further = deploy_shared_model(chain, mirror, incentive="drt", name="IMDB sentiment", description="1000-word perceptron",
                                  encoder="IMDB vocab", owner=a, cost_weight=S)
    assert further.infrastructure_gas == 0
    assert further.gas_total < 5_300_000  # reference: 30,258,745
    assert first.gas_total < 8_600_000  # factory + implementation included
    m = Contract(chain, further.address, registry.entry_artifact("sparse_perceptron", "drt").abi)
    p = m.call("predict", IMDB_X)
    r_add = m.transact("add_data", IMDB_X, p, sender=b, value=m.call("next_deposit"))
    r_upd = m.transact("add_data", IMDB_X, 1 - p, sender=c, value=m.call("next_deposit"))
    if m.call("predict", IMDB_X) == p:
        r_ref = m.transact("refund", IMDB_X, p, r_add.timestamp, sender=b)
        r_rep = m.transact("report", IMDB_X, 1 - p, r_upd.timestamp, c, sender=d)
    else:
        r_ref = m.transact("refund", IMDB_X, 1 - p, r_upd.timestamp, sender=c)
        r_rep = m.transact("report", IMDB_X, p, r_add.timestamp, b, sender=d)
    assert r_add.gas_used < 116_000  # reference 273,009
    assert r_upd.gas_used < 175_000  # reference 308,266
    assert r_ref.gas_used < 120_000  # reference 221,111
    assert r_rep.gas_used < 54_000  # reference 181,159 (take after the waits)
