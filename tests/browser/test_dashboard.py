"""Click through the dashboard on a fresh embedded chain and check what the page shows.

Each test deploys its own model (through the page's form or the API), so the
tests share one server but no contributions; the chain clock only moves
forward, which no test minds.
"""

from __future__ import annotations

import json
import re
import time

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright==1.65.2)")
from playwright.sync_api import Page, expect  # noqa: E402

from ledgerlearn.encoders import murmurhash3  # noqa: E402

pytestmark = pytest.mark.browser

NORMALIZE = "Normalize to L2 norm 1, multiply by 1E9, then round"


def text_model() -> dict:
    """A sparse perceptron on MurmurHash3 tokens: 'great' is Positive, 'awful' Negative."""
    return {
        "type": "sparse perceptron", "classifications": ["Negative", "Positive"], "weights": [],
        "sparseWeights": {str(murmurhash3("great")): 3.0, str(murmurhash3("movie")): 1.0, str(murmurhash3("awful")): -3.0},
        "intercept": 0, "learningRate": 1,
    }


def numbers_model() -> dict:
    """A dense perceptron over 3 numbers: class "high" when the first one dominates."""
    return {"type": "dense perceptron", "classifications": ["low", "high"], "weights": [1.0, -0.5, -0.5], "intercept": 0, "learningRate": 1}


# ----------------------------------------------------------------- helpers
def tid(page: Page, name: str):
    return page.get_by_test_id(name)


def wei(page: Page, name: str) -> int:
    return int(tid(page, name).get_attribute("data-wei"))


def open_model(page: Page, server, name: str, account: str = "0") -> None:
    page.goto(f"{server.url}/#/models/{name}")
    expect(tid(page, "model-name")).to_have_text(name)
    choose_account(page, server, account)


def choose_account(page: Page, server, account: str) -> None:
    address = server.get("/api/accounts")[int(account)]["address"]
    if tid(page, "account-select").input_value() != account:
        tid(page, "account-select").select_option(account)
    expect(tid(page, "my-address")).to_have_text(address)
    expect(tid(page, "contribute-deposit")).to_have_text(re.compile(r"deposit: (\d|none)"))


def advance(page: Page, server, duration: str) -> None:
    """Move the chain's clock by ``duration`` (e.g. "1d1m") with the page's control.

    On the wall-clock embedded chain, blocks mined faster than one a second
    run ahead of the wall clock, and an advance moves the wall clock's offset:
    the lead is added so the waits surely pass.
    """
    lead = server.get("/api/status")["timestamp"] - int(time.time())
    tid(page, "advance-input").fill(duration + (f"{lead + 5}s" if lead > 0 else ""))
    tid(page, "advance-submit").click()
    expect(tid(page, "header-result")).to_contain_text("advanced the clock")


def contribute(page: Page, text: str, label: str) -> str:
    """Add data through the form; the hash of the contribution's transaction."""
    before = set(row_hashes(page, "my-contributions"))
    tid(page, "contribute-input").fill(text)
    tid(page, "contribute-label").select_option(label=label)
    tid(page, "contribute-submit").click()
    expect(tid(page, "contribute-result")).to_contain_text("contributed: tx 0x")
    (new,) = set(row_hashes(page, "my-contributions")) - before
    return new


def row_hashes(page: Page, table: str) -> list[str]:
    prefix = f"{table}-row-"
    return [t[len(prefix):] for t in page.locator(f"[data-testid^='{prefix}']").evaluate_all("rs => rs.map(r => r.dataset.testid)")]


def status_of(page: Page, table: str, tx: str):
    return tid(page, f"{table}-row-{tx}").get_by_test_id(f"status-{tx}")


# ------------------------------------------------------------------- tests
def test_deploy_through_the_form_then_models_list(page: Page, server, shot, tmp_path):
    model_file = tmp_path / "model.json"
    model_file.write_text(json.dumps(text_model()))
    evaluation = tmp_path / "eval.jsonl"
    evaluation.write_text("\n".join(json.dumps(r) for r in [
        {"text": "great movie", "label": 1}, {"text": "awful movie", "label": 0}, {"text": "great", "label": 1}, {"text": "awful", "label": 0},
    ]))
    page.goto(server.url + "/")
    status = server.get("/api/status")
    expect(tid(page, "chain-info")).to_contain_text(f"chain {status['chain_id']}")
    expect(tid(page, "chain-info")).to_contain_text("embedded")
    expect(tid(page, "advance-form")).to_be_visible()
    expect(tid(page, "models-table-empty")).to_be_visible()
    shot(page, "empty")

    tid(page, "deploy-name").fill("reviews")
    tid(page, "deploy-file").set_input_files(model_file)
    tid(page, "deploy-refund-wait").fill("1d")
    tid(page, "deploy-owner-wait").fill("8d")
    tid(page, "deploy-any-wait").fill("9d")
    tid(page, "deploy-cost-weight").fill("1e13")
    tid(page, "deploy-encoder").fill("MurmurHash3")
    tid(page, "deploy-description").fill("movie reviews")
    tid(page, "deploy-evaluation").set_input_files(evaluation)
    tid(page, "deploy-submit").click()
    expect(tid(page, "deploy-result")).to_contain_text("deployed reviews at 0x")
    row = tid(page, "model-row-reviews")
    expect(row).to_contain_text("sparse perceptron")
    expect(row).to_contain_text("drt")
    expect(row).to_contain_text("100.0%")  # the evaluation set: the model gets all four right
    shot(page, "deployed")

    tid(page, "model-link-reviews").click()
    expect(tid(page, "model-name")).to_have_text("reviews")
    expect(tid(page, "info-classes")).to_have_text("Negative, Positive")
    expect(tid(page, "info-refund-wait")).to_have_text("1d")
    expect(tid(page, "info-anyone-claim-wait")).to_have_text("9d")
    expect(tid(page, "info-owner")).to_have_text(server.get("/api/accounts")[0]["address"])
    expect(tid(page, "chart-accuracy")).to_be_visible()
    shot(page, "model-page")


def test_deploy_form_shows_errors(page: Page, server, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "no such model", "classifications": ["a", "b"]}))
    page.goto(server.url + "/")
    tid(page, "deploy-name").fill("broken")
    tid(page, "deploy-submit").click()
    expect(tid(page, "deploy-error")).to_have_text("model: choose a model file")
    tid(page, "deploy-file").set_input_files(bad)
    tid(page, "deploy-refund-wait").fill("soon")
    tid(page, "deploy-submit").click()
    expect(tid(page, "deploy-error")).to_contain_text('refund_wait: "soon" is not a duration')
    tid(page, "deploy-refund-wait").fill("1d")
    tid(page, "deploy-submit").click()
    expect(tid(page, "deploy-error")).to_contain_text("unknown model type")
    expect(tid(page, "deploy-error")).to_have_attribute("role", "alert")
    assert not any(m["name"] == "broken" for m in server.get("/api/models"))


def test_predict(page: Page, server, shot):
    server.deploy("predict-me", text_model(), encoder="MurmurHash3")
    open_model(page, server, "predict-me")
    tid(page, "predict-input").fill("a great movie")
    tid(page, "predict-submit").click()
    expect(tid(page, "predict-result")).to_have_text("prediction: Positive")
    shot(page, "positive")
    tid(page, "predict-input").fill("an awful movie, awful")
    tid(page, "predict-submit").click()
    expect(tid(page, "predict-result")).to_have_text("prediction: Negative")


def test_attach_an_evaluation_set(page: Page, server, shot, tmp_path):
    server.deploy("evaluated", text_model(), encoder="MurmurHash3")
    records = tmp_path / "eval.json"
    records.write_text(json.dumps([{"input": "great", "label": "Positive"}, {"input": "awful", "label": "Negative"},
                                   {"text": "a movie", "label": 0}]))  # "movie" alone scores positive: wrong
    open_model(page, server, "evaluated")
    expect(tid(page, "info-accuracy")).to_have_text("unknown")
    expect(tid(page, "chart-accuracy-reason")).to_contain_text("evaluation set")
    tid(page, "evaluation-file").set_input_files(records)
    tid(page, "evaluation-submit").click()
    expect(tid(page, "evaluation-result")).to_have_text("attached 3 evaluation records")
    expect(tid(page, "info-accuracy")).to_have_text("66.7%")
    expect(tid(page, "chart-accuracy-reason")).to_be_hidden()
    expect(tid(page, "chart-accuracy").locator(".scatterlayer .trace")).to_have_count(1)
    shot(page, "attached")


def test_contribute_then_refund(page: Page, server, shot):
    server.deploy("refundable", text_model(), encoder="MurmurHash3")
    open_model(page, server, "refundable", account="1")
    deposit = tid(page, "contribute-deposit")
    expect(deposit).to_have_text(re.compile(r"^deposit: 0\.\d+ ETH$"))  # shown before anything is sent
    expect(tid(page, "my-contributions-table-empty")).to_be_visible()
    balance0 = wei(page, "my-balance")
    shot(page, "before")

    tx = contribute(page, "a great movie", "Positive")
    expect(tid(page, "contribute-result")).to_contain_text(re.compile(r"deposit 0\.\d+ ETH"))
    expect(status_of(page, "my-contributions", tx)).to_have_text(re.compile(r"^wait (1d|23h \d+m|24h) to refund$"))
    expect(tid(page, f"refund-{tx}")).to_have_count(0)
    contribution = server.get(f"/api/models/refundable/contributions?author={server.get('/api/accounts')[1]['address']}")["items"][0]
    balance1 = wei(page, "my-balance")
    assert balance1 <= balance0 - int(contribution["deposit_wei"])
    assert tid(page, "account-balance").get_attribute("data-wei") == str(balance1)  # the header agrees
    expect(tid(page, "my-held")).to_have_text(contribution["deposit_eth"])
    expect(deposit).to_have_text(re.compile(r"^deposit: 0\.\d+ ETH$"))  # refreshed for the next contribution
    shot(page, "contributed")

    advance(page, server, "1d1m")
    expect(status_of(page, "my-contributions", tx)).to_have_text(f"refund {contribution['deposit_eth']}")
    shot(page, "refundable")
    tid(page, f"refund-{tx}").click()
    expect(tid(page, "refund-result")).to_contain_text(f"refunded {tx[:8]}…{tx[-4:]}: got {contribution['deposit_eth']}")
    expect(status_of(page, "my-contributions", tx)).to_have_text("refunded")
    balance2 = wei(page, "my-balance")
    assert balance2 > balance1 and balance2 >= balance1 + int(contribution["deposit_wei"]) - 10**15  # back up (less gas)
    expect(tid(page, "my-good")).to_have_text("1 of 1")
    shot(page, "refunded")


def test_report_a_contribution_the_model_disagrees_with(page: Page, server, shot):
    server.deploy("reported", text_model(), encoder="MurmurHash3")
    accounts = server.get("/api/accounts")
    open_model(page, server, "reported", account="1")
    good = contribute(page, "great movie", "Positive")
    choose_account(page, server, "2")
    bad = contribute(page, "awful awful", "Positive")  # a wrong label: the model says Negative
    bad_deposit = server.get(f"/api/models/reported/contributions?author={accounts[2]['address']}")["items"][0]["deposit_eth"]

    advance(page, server, "1d1m")
    expect(status_of(page, "my-contributions", bad)).to_have_text("model disagrees")
    expect(tid(page, "reportable-table-empty")).to_be_visible()  # account 2 has no verified contribution
    choose_account(page, server, "1")
    expect(tid(page, "reportable-table-empty")).to_be_visible()  # not verified yet either
    tid(page, f"refund-{good}").click()
    expect(status_of(page, "my-contributions", good)).to_have_text("refunded")
    row = tid(page, f"reportable-row-{bad}")
    expect(row).to_contain_text("model disagrees")
    expect(tid(page, f"reportable-amount-{bad}")).to_have_text(bad_deposit)  # the only verified account takes it all
    shot(page, "reportable")

    balance = wei(page, "my-balance")
    tid(page, f"report-{bad}").click()
    expect(tid(page, "report-result")).to_contain_text(f"got {bad_deposit}")
    expect(tid(page, f"reportable-row-{bad}")).to_have_count(0)
    assert wei(page, "my-balance") > balance
    expect(status_of(page, "all-contributions", bad)).to_have_text("taken")
    shot(page, "reported")


def test_withdraw_is_disabled_with_nothing_pending(page: Page, server, shot):
    server.deploy("withdrawals", text_model(), encoder="MurmurHash3")
    open_model(page, server, "withdrawals", account="3")
    expect(tid(page, "my-pending")).to_have_text("0 ETH")
    expect(tid(page, "withdraw-submit")).to_be_disabled()
    # Forced (as a stale page could): the API's refusal shows, nothing changes.
    balance = wei(page, "my-balance")
    tid(page, "withdraw-submit").evaluate("b => { b.disabled = false; }")
    tid(page, "withdraw-submit").click()
    expect(tid(page, "withdraw-error")).to_contain_text("nothing to withdraw")
    expect(tid(page, "withdraw-error")).to_be_visible()
    expect(tid(page, "withdraw-submit")).to_be_disabled()  # disabled again after the refusal
    assert wei(page, "my-balance") == balance
    shot(page, "forced")


def test_bad_input_shows_a_message_and_changes_nothing(page: Page, server, shot):
    server.deploy("strict", text_model(), encoder="MurmurHash3")
    server.deploy("vectors", numbers_model(), encoder=NORMALIZE)
    accounts = server.get("/api/accounts")

    def snapshot():
        return (
            [a["balance_wei"] for a in server.get("/api/accounts")],
            server.get("/api/models/strict")["contributions"], server.get("/api/models/vectors")["contributions"],
            server.get("/api/status")["block_number"],
        )

    # a contribution of account 1, refundable later, for the wrong-account case
    open_model(page, server, "strict", account="1")
    mine = contribute(page, "great movie", "Positive")
    advance(page, server, "1d1m")
    expect(status_of(page, "my-contributions", mine)).to_have_text(re.compile(r"^refund "))
    before = snapshot()

    # empty text
    tid(page, "predict-input").fill("")
    tid(page, "predict-submit").click()
    expect(tid(page, "predict-error")).to_contain_text("input")
    tid(page, "contribute-input").fill("   ")
    tid(page, "contribute-submit").click()
    expect(tid(page, "contribute-error")).to_contain_text("input")
    expect(tid(page, "contribute-error")).to_have_attribute("role", "alert")
    shot(page, "empty-text")

    # deposit too low: an explicit value of 1 wei
    tid(page, "contribute-input").fill("great")
    tid(page, "contribute-value").fill("1")
    tid(page, "contribute-submit").click()
    expect(tid(page, "contribute-error")).to_contain_text("deposit")
    shot(page, "deposit-too-low")

    # wrong account: account 2 presses the refund button of account 1's contribution
    choose_account(page, server, "2")
    expect(tid(page, "my-contributions-table-empty")).to_be_visible()
    tid(page, f"all-refund-{mine}").click()
    expect(tid(page, "all-refund-error")).to_contain_text("not the author")
    expect(status_of(page, "all-contributions", mine)).to_have_text(re.compile(r"^refund "))
    shot(page, "wrong-account")

    # a vector of the wrong dimension, and something that is not a number
    open_model(page, server, "vectors", account="1")
    expect(tid(page, "predict-dimension")).to_contain_text("dimension 3")
    tid(page, "predict-input").fill("1, 2")
    tid(page, "predict-submit").click()
    expect(tid(page, "predict-error")).to_contain_text("3")
    tid(page, "predict-input").fill("1 0 0")
    tid(page, "predict-submit").click()
    expect(tid(page, "predict-result")).to_have_text("prediction: high")
    tid(page, "contribute-input").fill("1, two, 3")
    tid(page, "contribute-submit").click()
    expect(tid(page, "contribute-error")).to_have_text('input: "two" is not a number')
    tid(page, "contribute-input").fill("1 2 3 4")
    tid(page, "contribute-submit").click()
    expect(tid(page, "contribute-error")).to_contain_text("3")
    expect(tid(page, "my-contributions-table-empty")).to_be_visible()
    shot(page, "wrong-dimension")

    assert snapshot() == before
    assert server.get(f"/api/models/strict/contributions?author={accounts[2]['address']}")["total"] == 0


def test_image_predict_with_preview(page: Page, server, shot, tmp_path):
    """An image model: the chosen file is previewed and sent as a data URL."""
    from PIL import Image

    server.deploy("pictures", {
        "type": "dense perceptron", "classifications": ["bottom", "top"], "weights": [0.25] * 8 + [-0.25] * 8,
        "intercept": 0, "learningRate": 1,
    }, encoder="Image: flatten, divide by 255, L2 norm 1, multiply by 1E9, round")
    top = tmp_path / "top.png"
    Image.frombytes("L", (4, 4), bytes([255] * 8 + [0] * 8)).save(top)
    bottom = tmp_path / "bottom.png"
    Image.frombytes("L", (4, 4), bytes([0] * 8 + [255] * 8)).save(bottom)
    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")

    open_model(page, server, "pictures")
    expect(tid(page, "info-input")).to_have_text("image, dimension 16")
    tid(page, "predict-input").set_input_files(top)
    expect(tid(page, "predict-preview")).to_be_visible()
    expect(tid(page, "predict-preview")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    tid(page, "predict-submit").click()
    expect(tid(page, "predict-result")).to_have_text("prediction: top")
    shot(page, "top")
    tid(page, "predict-input").set_input_files(bottom)
    tid(page, "predict-submit").click()
    expect(tid(page, "predict-result")).to_have_text("prediction: bottom")
    tid(page, "predict-input").set_input_files(not_image)
    tid(page, "predict-submit").click()
    expect(tid(page, "predict-error")).to_contain_text("image")


def test_contribution_lists_are_paged(page: Page, server, shot):
    server.deploy("busy", text_model(), encoder="MurmurHash3")
    for i in range(55):
        server.post("/api/models/busy/contributions", {"input": f"great movie number {i}", "label": "Positive", "account": "4"})
    open_model(page, server, "busy", account="4")
    expect(tid(page, "all-contributions-pager-range")).to_have_text("showing 1–50 of 55")
    expect(tid(page, "all-contributions-pager-prev")).to_be_disabled()
    expect(page.locator("[data-testid^='all-contributions-row-']")).to_have_count(50)
    expect(tid(page, "my-contributions-pager-range")).to_have_text("showing 1–20 of 55")
    newest = row_hashes(page, "all-contributions")[0]
    tid(page, "all-contributions-pager-next").click()
    expect(tid(page, "all-contributions-pager-range")).to_have_text("showing 51–55 of 55")
    expect(page.locator("[data-testid^='all-contributions-row-']")).to_have_count(5)
    expect(tid(page, "all-contributions-pager-next")).to_be_disabled()
    assert newest not in row_hashes(page, "all-contributions")
    shot(page, "page-2")
    tid(page, "all-contributions-pager-prev").click()
    expect(tid(page, "all-contributions-pager-range")).to_have_text("showing 1–50 of 55")
    assert row_hashes(page, "all-contributions")[0] == newest  # newest first


def test_points_model_contributes_without_a_deposit(page: Page, server, shot):
    server.deploy("scored", text_model(), encoder="MurmurHash3", incentive="points", refund_wait="1h",
                  owner_claim_wait="1h", any_claim_wait="1h", cost_weight="0")
    open_model(page, server, "scored", account="5")
    expect(tid(page, "contribute-deposit")).to_have_text("deposit: none (points)")
    balance = wei(page, "my-balance")
    tx = contribute(page, "great movie", "Positive")
    assert wei(page, "my-balance") == balance  # no deposit (and the embedded chain charges no gas)
    advance(page, server, "1h1m")
    expect(status_of(page, "my-contributions", tx)).to_have_text("refund (+1 point)")
    tid(page, f"refund-{tx}").click()
    expect(tid(page, "refund-result")).to_contain_text("refunded")
    expect(tid(page, "my-points")).to_have_text("1")
    shot(page, "point")
