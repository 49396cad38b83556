"""The dashboard's JSON API on real contracts (embedded exact chain), through HTTP.

Each bad request must answer a readable message and change nothing: the
balances, the contribution count and the deployment record are compared
before and after.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ledgerlearn.chain.base import TxRequest
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.dashboard.app import create_app
from ledgerlearn.dashboard.service import DashboardService
from ledgerlearn.encoders import get_encoder
from ledgerlearn.models.dense_perceptron import DensePerceptron
from ledgerlearn.models.files import model_to_dict
from ledgerlearn.models.naive_bayes import NaiveBayes
from ledgerlearn.store.deployments import DeploymentStore
from ledgerlearn.store.originals import OriginalStore

DAY = 86_400
REVIEWS = [("great movie loved it", 1), ("awful boring film", 0), ("wonderful acting great", 1), ("terrible awful plot", 0)]


def text_model() -> dict:
    enc = get_encoder("MurmurHash3")
    X = [enc.encode(t, "naive bayes") for t, _ in REVIEWS]
    return model_to_dict(NaiveBayes(classes=["negative", "positive"]).fit(X, [y for _, y in REVIEWS]))


def dense_model() -> dict:
    s = 10**9
    return model_to_dict(DensePerceptron(classes=["no", "yes"], weights=[s, -s, s // 2, 0], intercept=0, learning_rate=s))


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dash")
    chain = LocalChain()
    service = DashboardService(chain, DeploymentStore(tmp / "deployments"), originals=OriginalStore(tmp / "o.sqlite"), runs_dir=tmp)
    with TestClient(create_app(service)) as client:
        for name, model in (("reviews", text_model()), ("dense", dense_model())):
            r = client.post("/api/models", json={"name": name, "model": model, "account": "0", "refund_wait": "1d",
                                                 "owner_claim_wait": "8d", "any_claim_wait": "9d", "cost_weight": "1e12"})
            assert r.status_code == 200, r.text
        client.chain = chain
        yield client


def ok(r):
    assert r.status_code == 200, r.text
    return r.json()


def refused(r, status: int, *words: str) -> str:
    assert r.status_code == status, r.text
    msg = r.json()["error"]
    for w in words:
        assert w in msg, msg
    return msg


def snapshot(api) -> tuple:
    """What a refused request must leave alone."""
    chain = api.chain
    counts = tuple(ok(api.get(f"/api/models/{m}/contributions?limit=1"))["total"] for m in ("reviews", "dense"))
    return tuple(chain.balance(a) for a in chain.accounts[:4]), counts, chain.block_number, len(ok(api.get("/api/models")))


def test_models_listed_with_their_input(api):
    models = {m["name"]: m for m in ok(api.get("/api/models"))}
    assert models["reviews"]["model_type"] == "naive bayes" and models["reviews"]["input"]["kind"] == "text"
    assert models["dense"]["input"] == {"kind": "numbers", "dimension": 4, "hint": "4 numbers, comma- or space-separated"}
    info = ok(api.get("/api/models/reviews"))
    assert info["classes"] == ["negative", "positive"] and info["refund_wait"] == DAY
    assert int(info["next_deposit_wei"]) > 0 and info["next_deposit_eth"].endswith("ETH")
    assert ok(api.get(f"/api/models/{info['address'].lower()}"))["name"] == "reviews"  # by address too


def test_predict_is_free_and_bad_input_is_readable(api):
    before = snapshot(api)
    assert ok(api.post("/api/models/reviews/predict", json={"input": "a great wonderful movie"}))["label_name"] == "positive"
    assert ok(api.post("/api/models/reviews/predict", json={"input": "awful terrible"}))["label_name"] == "negative"
    assert ok(api.post("/api/models/dense/predict", json={"input": "1, 0, 0.5, 0"}))["label_name"] == "yes"
    refused(api.post("/api/models/reviews/predict", json={"input": "   "}), 400, "input", "empty")
    refused(api.post("/api/models/dense/predict", json={"input": [1, 2, 3]}), 400, "takes 4 values, got 3")
    refused(api.post("/api/models/dense/predict", json={"input": "1, x, 2, 3"}), 400, "input", "not a list of numbers")
    refused(api.post("/api/models/dense/predict", json={}), 400, "input")
    refused(api.post("/api/models/nosuch/predict", json={"input": "x"}), 404, "no model named 'nosuch'", "reviews")
    assert snapshot(api) == before


def test_deploy_refuses_bad_requests_and_records_nothing(api):
    before = snapshot(api)
    body = {"name": "again", "model": text_model(), "account": "0"}
    refused(api.post("/api/models", json={**body, "name": "reviews"}), 400, "already deployed")
    refused(api.post("/api/models", json={**body, "name": "bad name!"}), 400, "name")
    refused(api.post("/api/models", json={**body, "model": {"type": "no such model"}}), 400, "model")
    refused(api.post("/api/models", json={**body, "refund_wait": "9d", "any_claim_wait": "1d"}), 400, "wait")
    refused(api.post("/api/models", json={**body, "account": "42"}), 400, "account", "out of range")
    refused(api.post("/api/models", json={"name": "x"}), 400, "model", "account")
    assert snapshot(api) == before


def test_contribute_refund_report_flow(api):
    chain = api.chain
    a1, a2 = chain.accounts[1], chain.accounts[2]
    deposit = ok(api.get("/api/models/reviews/deposit"))
    assert deposit["incentive"] == "drt" and int(deposit["deposit_wei"]) > 0
    b1 = chain.balance(a1)
    good = ok(api.post("/api/models/reviews/contributions", json={"input": "great wonderful great", "label": "positive", "account": "1"}))
    assert chain.balance(a1) == b1 - int(good["deposit_wei"])  # the dev chain charges no gas price
    bad = ok(api.post("/api/models/reviews/contributions", json={"input": "great loved wonderful", "label": "negative", "account": a2}))
    mine = ok(api.get(f"/api/models/reviews/contributions?author={a1}"))
    assert mine["total"] == 1 and mine["items"][0]["tx_hash"] == good["tx_hash"]
    assert mine["items"][0]["status"] == "waiting" and mine["items"][0]["status_text"].startswith("wait ")

    before = snapshot(api)
    refused(api.post(f"/api/models/reviews/contributions/{good['tx_hash']}/refund", json={"account": "1"}), 409, "too early", "1d")
    refused(api.post(f"/api/models/reviews/contributions/{good['tx_hash']}/refund", json={"account": "2"}), 400, "not the author")
    refused(api.post("/api/models/reviews/contributions/0xabc/refund", json={"account": "1"}), 404, "contribution")
    refused(api.post("/api/models/reviews/contributions", json={"input": "fine", "label": "positive", "account": "1", "value": "1"}), 400, "less than the deposit")
    refused(api.post("/api/models/reviews/contributions", json={"input": "fine", "label": "meh", "account": "1"}), 400, "label", "negative, positive")
    refused(api.post("/api/models/reviews/contributions", json={"input": "", "label": "positive", "account": "1"}), 400, "empty")
    refused(api.post("/api/models/reviews/contributions", json={"input": "fine", "label": "positive", "account": "0x" + "12" * 20}), 400, "can sign for")
    refused(api.post("/api/models/reviews/contributions", json={"input": "fine", "label": "positive"}), 400, "account")
    refused(api.post("/api/models/reviews/withdraw", json={"account": "1"}), 400, "nothing to withdraw")
    refused(api.post("/api/chain/advance", json={"seconds": -5}), 400, "seconds")
    assert snapshot(api) == before

    ok(api.post("/api/chain/advance", json={"seconds": DAY + 1}))
    mine = ok(api.get(f"/api/models/reviews/contributions?author={a1}"))["items"][0]
    assert mine["status"] == "refundable" and mine["claimable_wei"] == good["deposit_wei"]
    stats = ok(api.get(f"/api/models/reviews/accounts/{a1}"))
    assert stats["refundable_wei"] == good["deposit_wei"] and stats["good_count"] == 0
    b1 = chain.balance(a1)
    r = ok(api.post(f"/api/models/reviews/contributions/{good['tx_hash']}/refund", json={"account": "1"}))
    assert r["amount_wei"] == good["deposit_wei"] and chain.balance(a1) == b1 + int(good["deposit_wei"])
    assert ok(api.get(f"/api/models/reviews/contributions?author={a1}"))["items"][0]["status"] == "refunded"

    # a1 is verified now; the model disagrees with a2's label, so a1 may report it
    offers = ok(api.get(f"/api/models/reviews/reportable?account={a1}"))
    assert [o["tx_hash"] for o in offers["items"]] == [bad["tx_hash"]] and offers["items"][0]["reason"] == "model disagrees"
    assert ok(api.get(f"/api/models/reviews/reportable?account={a2}"))["total"] == 0  # a2 is not verified
    b1 = chain.balance(a1)
    rep = ok(api.post(f"/api/models/reviews/contributions/{bad['tx_hash']}/report", json={"account": "1"}))
    assert rep["amount_wei"] == offers["items"][0]["amount_wei"] and chain.balance(a1) == b1 + int(rep["amount_wei"])
    again = api.post(f"/api/models/reviews/contributions/{bad['tx_hash']}/report", json={"account": "1"})
    refused(again, 400, "nothing remains")  # one verified reporter of one: the report took it all
    theirs = ok(api.get(f"/api/models/reviews/contributions?author={a2}"))["items"][0]
    assert theirs["reported_by"] == [a1] and int(theirs["remaining_wei"]) == int(bad["deposit_wei"]) - int(rep["amount_wei"])
    check_event_state(api)
    check_charts(api)


def test_pages_of_contributions(api):
    chain = api.chain
    from ledgerlearn.shared_models.client import SharedModel

    rec = api.app.state.service.deployments.get(chain.chain_id, "dense")
    m = SharedModel(chain, rec.address, feature_indices=rec.feature_indices)
    authors = chain.accounts[3:6]
    items = [([1.0, float(i % 3), 0.5, 1.0], i % 2, authors[i % 3]) for i in range(75)]
    results = m.contribute_many(items)
    assert all(not isinstance(r, Exception) for r in results)
    page = ok(api.get("/api/models/dense/contributions?offset=0&limit=20"))
    assert page["total"] == 75 and [c["tx_hash"] for c in page["items"]] == [r.tx_hash for r in results[::-1][:20]]
    last = ok(api.get("/api/models/dense/contributions?offset=60&limit=20"))
    assert [c["tx_hash"] for c in last["items"]] == [r.tx_hash for r in results[::-1][60:]]
    one = ok(api.get(f"/api/models/dense/contributions?author={authors[1]}&offset=5&limit=3"))
    assert one["total"] == 25 and [c["tx_hash"] for c in one["items"]] == [r.tx_hash for r in results[::-1] if r is not None][1::3][5:8]
    refused(api.get("/api/models/dense/contributions?limit=0"), 400, "limit")
    refused(api.get("/api/models/dense/contributions?offset=-1"), 400, "offset")
    refused(api.get("/api/models/dense/contributions?author=nobody"), 400, "author")


def test_wallet_prepare_gives_a_transaction_that_works(api):
    chain = api.chain
    a3 = chain.accounts[3]
    tx = ok(api.post("/api/models/reviews/prepare/contribute", json={"account": a3, "input": "great acting", "label": "positive"}))
    assert tx["from"] == a3 and tx["chain_id"] == hex(chain.chain_id) and int(tx["value"], 16) > 0
    assert int(tx["gas"], 16) > 21_000
    before = ok(api.get(f"/api/models/reviews/contributions?author={a3}"))["total"]
    receipt = chain.send(TxRequest(sender=a3, to=tx["to"], data=bytes.fromhex(tx["data"][2:]), value=int(tx["value"], 16)))
    seen = ok(api.get(f"/api/tx/{receipt.tx_hash}"))
    assert seen["status"] is True and [e["event"] for e in seen["events"]] == ["DataAdded"]
    assert ok(api.get(f"/api/models/reviews/contributions?author={a3}"))["total"] == before + 1
    refused(api.post("/api/models/reviews/prepare/contribute", json={"account": a3, "input": "x", "label": 1, "value": "1"}), 400, "less than the deposit")
    refused(api.post("/api/models/reviews/prepare/steal", json={"account": a3}), 400, "action")
    refused(api.post("/api/models/reviews/prepare/withdraw", json={"account": a3}), 409, "refused")


def test_openapi_lists_every_action(api):
    paths = ok(api.get("/openapi.json"))["paths"]
    for p in ("/api/models", "/api/models/{model}/predict", "/api/models/{model}/contributions",
              "/api/models/{model}/contributions/{tx_hash}/refund", "/api/models/{model}/contributions/{tx_hash}/report",
              "/api/models/{model}/withdraw", "/api/models/{model}/reportable", "/api/models/{model}/accounts/{account}",
              "/api/models/{model}/charts/accuracy", "/api/models/{model}/charts/balances", "/api/runs", "/api/markets"):
        assert p in paths, p
    assert "ContributeBody" in ok(api.get("/openapi.json"))["components"]["schemas"]
    assert api.get("/").status_code == 200 and "text/html" in api.get("/").headers["content-type"]
    js = api.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000


def check_event_state(api):
    """Pages take deposits, what remains and claims from events: the contract must agree on every one."""
    from ledgerlearn.shared_models.client import SharedModel

    chain = api.chain
    for name in ("reviews", "dense"):
        rec = api.app.state.service.deployments.get(chain.chain_id, name)
        m = SharedModel(chain, rec.address, from_block=rec.deploy_block)
        page = ok(api.get(f"/api/models/{name}/contributions?limit=500"))
        assert page["total"] == len(page["items"])
        for c in page["items"]:
            initial, remaining, claims, added = m.contract.call("contribution", bytes.fromhex(c["key"][2:]))
            assert (str(initial), str(remaining), claims, added) == (c["deposit_wei"], c["remaining_wei"], c["claims"], c["added_time"])


def check_charts(api):
    """After the flow: accuracy over time once an evaluation set is attached, and balances from events."""
    chain = api.chain
    before = ok(api.get("/api/models/reviews/charts/accuracy"))
    assert before["available"] is False and "evaluation" in before["reason"] and before["agreement"]
    refused(api.post("/api/models/reviews/evaluation", json={"records": [{"input": "great", "label": "meh"}]}), 400, "records[0]", "label")
    refused(api.post("/api/models/reviews/evaluation", json={"records": []}), 400, "records")
    records = [{"input": t, "label": y} for t, y in REVIEWS]
    chart = ok(api.post("/api/models/reviews/evaluation", json={"records": records}))
    assert chart["evaluation_size"] == 4 and chart["available"] is True and chart["replay_matches_chain"] is True
    points = chart["points"]
    total = ok(api.get("/api/models/reviews/contributions?limit=1"))["total"]
    assert points[0]["contributions"] == 0 and points[-1]["contributions"] == total
    # the last point is the model on chain now, scored on the evaluation set
    now = sum(ok(api.post("/api/models/reviews/predict", json={"input": t}))["label"] == y for t, y in REVIEWS) / 4
    assert points[-1]["accuracy"] == now
    assert {m["name"]: m["accuracy"] for m in ok(api.get("/api/models"))}["reviews"] == now

    balances = ok(api.get("/api/models/reviews/charts/balances"))["series"]
    a1 = next(s for s in balances if s["address"] == chain.accounts[1])
    flows = ok(api.get(f"/api/models/reviews/contributions?author={chain.accounts[1]}&limit=500"))["items"]
    assert a1["net_wei"] == a1["points"][-1]["net_wei"]
    # account 1 got its deposit back and took account 2's: its net is what it took
    taken = sum(int(c["deposit_wei"]) - int(c["remaining_wei"]) for c in
                ok(api.get(f"/api/models/reviews/contributions?author={chain.accounts[2]}&limit=500"))["items"]
                if chain.accounts[1] in c["reported_by"])
    assert len(flows) == 1 and int(a1["net_wei"]) == taken > 0


def test_api_docs_work_offline(api):
    page = api.get("/docs")
    assert page.status_code == 200 and "/swagger/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
    assert api.get("/swagger/swagger-ui-bundle.js").status_code == 200 and api.get("/swagger/swagger-ui.css").status_code == 200


def test_status_says_when_the_next_block_comes(api):
    st = ok(api.get("/api/status"))
    assert st["now"] > st["timestamp"] and st["dev_chain"] is True
    moved = ok(api.post("/api/chain/advance", json={"seconds": 3600}))
    assert moved["now"] >= st["timestamp"] + 3600


def test_json_safe_turns_wei_into_strings():
    from ledgerlearn.dashboard.service import json_safe

    out = json_safe({"paid_wei": 5, "rounds": [{"amount": 2**60, "n": 3, "ok": True}], "accuracy": 0.5})
    assert out == {"paid_wei": "5", "rounds": [{"amount": str(2**60), "n": 3, "ok": True}], "accuracy": 0.5}


def test_contract_wallet_withdraws_a_credited_payment(api):
    """A contract account whose refund push failed sees it pending and withdraws with /prepare (as a smart wallet would)."""
    from ledgerlearn.chain.contract import deploy
    from ledgerlearn.contracts.compiler import compile_file

    chain = api.chain
    owner = chain.accounts[6]
    art = compile_file("test/hostile_receiver.vy")
    wallet, _ = deploy(chain, art.abi, art.bytecode, sender=owner)
    chain.send(TxRequest(sender=owner, to=wallet.address, value=10**18))  # the wallet pays its own deposit

    def through_wallet(tx: dict):
        data, value = bytes.fromhex(tx["data"][2:]), int(tx["value"], 16)
        return wallet.transact("act", tx["to"], data, value, sender=owner)  # paid from the wallet's balance

    added = through_wallet(ok(api.post("/api/models/dense/prepare/contribute", json={"account": wallet.address, "input": "0, 1, 0, 0", "label": "no"})))
    [c] = ok(api.get(f"/api/models/dense/contributions?author={wallet.address}"))["items"]
    assert c["tx_hash"] == added.tx_hash
    refused(api.post("/api/models/dense/prepare/withdraw", json={"account": wallet.address}), 409, "refused")
    ok(api.post("/api/chain/advance", json={"seconds": DAY + 1}))
    wallet.transact("configure", 1, "0x" + "00" * 20, b"", 0, sender=owner)  # refuse payments: the refund is credited
    through_wallet(ok(api.post("/api/models/dense/prepare/refund", json={"account": wallet.address, "tx_hash": c["tx_hash"]})))
    stats = ok(api.get(f"/api/models/dense/accounts/{wallet.address}"))
    funds = chain.balance(wallet.address)
    assert stats["pending_withdrawal_wei"] == c["deposit_wei"] and funds == 10**18 - int(c["deposit_wei"])
    wallet.transact("configure", 0, "0x" + "00" * 20, b"", 0, sender=owner)
    done = through_wallet(ok(api.post("/api/models/dense/prepare/withdraw", json={"account": wallet.address})))
    seen = ok(api.get(f"/api/tx/{done.tx_hash}"))
    assert [e["event"] for e in seen["events"]] == ["Withdrawal"] and seen["events"][0]["amount"] == int(c["deposit_wei"])
    assert chain.balance(wallet.address) == funds + int(c["deposit_wei"])
    assert ok(api.get(f"/api/models/dense/accounts/{wallet.address}"))["pending_withdrawal_wei"] == "0"
