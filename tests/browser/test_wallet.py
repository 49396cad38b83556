"""A browser wallet (an injected EIP-1193 provider) against the dashboard on anvil.

The fake wallet forwards requests to the anvil node (which holds the dev
accounts' keys, so ``eth_sendTransaction`` needs no signing) through a
function Playwright exposes to the page. The page must prepare each action
with ``/prepare/{action}``, send it with the wallet and wait for the receipt
with ``/api/tx/{hash}``; a wallet on another chain gets a clear message.
"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright==1.65.2)")
from playwright.sync_api import Page, expect  # noqa: E402

from dashboard_server import Server  # noqa: E402
from ledgerlearn.chain.anvil import AnvilNode, find_anvil  # noqa: E402
from ledgerlearn.encoders import murmurhash3  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.anvil]

WALLET_ACCOUNT = 7  # a dev account the dashboard also lists, but the page acts as it only through the wallet

PROVIDER = """
window.ethereum = {
  isFakeWallet: true,
  request: ({ method, params }) => window.__wallet(method, params || []),
  on() {}, removeListener() {},
};
"""


def tid(page: Page, name: str):
    return page.get_by_test_id(name)


@pytest.fixture(scope="module")
def anvil():
    binary = find_anvil()
    if binary is None:
        pytest.skip("anvil binary not installed (`make anvil` or `ledgerlearn node install`, or set LEDGERLEARN_ANVIL)")
    node = AnvilNode(binary=binary, no_mining=False)  # automine, as a wallet user's node would
    node.start()
    yield node
    node.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, anvil):
    s = Server(tmp_path_factory.mktemp("dashboard-rpc"), "--rpc-url", anvil.url)
    try:
        yield s
    finally:
        s.stop()


class FakeWallet:
    """What the injected provider answers: the account, a chain id, and anvil for the rest."""

    def __init__(self, url: str, address: str, chain_id: str | None = None):
        self.url, self.address, self.chain_id = url, address, chain_id
        self.sent: list[dict] = []

    def rpc(self, method: str, params: list):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            answer = json.loads(r.read())
        if "error" in answer:
            raise RuntimeError(answer["error"].get("message", str(answer["error"])))
        return answer["result"]

    def __call__(self, method: str, params: list):
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [self.address]
        if method == "eth_chainId" and self.chain_id is not None:
            return self.chain_id
        if method == "eth_sendTransaction":
            assert params[0]["from"].lower() == self.address.lower()
            self.sent.append(params[0])
        return self.rpc(method, params)


def wallet_page(page: Page, server, anvil, chain_id: str | None = None) -> FakeWallet:
    address = server.get("/api/accounts")[WALLET_ACCOUNT]["address"]
    wallet = FakeWallet(anvil.url, address, chain_id)
    page.expose_function("__wallet", wallet)
    page.add_init_script(PROVIDER)
    return wallet


def text_model() -> dict:
    return {
        "type": "sparse perceptron", "classifications": ["Negative", "Positive"], "weights": [],
        "sparseWeights": {str(murmurhash3("great")): 3.0, str(murmurhash3("awful")): -3.0}, "intercept": 0, "learningRate": 1,
    }


def test_wallet_contributes_and_refunds(page: Page, server, anvil, shot):
    server.deploy("walleted", text_model(), encoder="MurmurHash3")
    wallet = wallet_page(page, server, anvil)
    page.goto(f"{server.url}/#/models/walleted")
    expect(tid(page, "chain-info")).to_contain_text("rpc")
    tid(page, "account-select").select_option("wallet")
    expect(tid(page, "my-address")).to_have_text(wallet.address)
    expect(tid(page, "wallet-error")).to_be_hidden()
    expect(tid(page, "contribute-deposit")).to_have_text(re.compile(r"^deposit: 0\.\d+ ETH$"))

    tid(page, "contribute-input").fill("a great day")
    tid(page, "contribute-label").select_option(label="Positive")
    tid(page, "contribute-submit").click()
    expect(tid(page, "contribute-result")).to_contain_text("contributed: tx 0x")
    assert len(wallet.sent) == 1 and int(wallet.sent[0]["value"], 16) > 0
    rows = page.locator("[data-testid^='my-contributions-row-']")
    expect(rows).to_have_count(1)
    tx = rows.get_attribute("data-testid").removeprefix("my-contributions-row-")
    expect(tid(page, f"status-{tx}").first).to_have_text(re.compile(r"^wait "))
    shot(page, "contributed")

    tid(page, "advance-input").fill("1d1m")
    tid(page, "advance-submit").click()
    expect(tid(page, "header-result")).to_contain_text("advanced the clock")
    expect(tid(page, f"refund-{tx}")).to_be_visible()
    balance = int(tid(page, "my-balance").get_attribute("data-wei"))
    tid(page, f"refund-{tx}").click()
    expect(tid(page, "refund-result")).to_contain_text(re.compile(r"refunded: tx 0x\w+…\w+, (≈ )?0\.\d+ ETH \(mined in block \d+\)"))
    expect(tid(page, f"status-{tx}").first).to_have_text("refunded")
    assert len(wallet.sent) == 2
    assert int(tid(page, "my-balance").get_attribute("data-wei")) > balance
    shot(page, "refunded")


def test_wallet_on_another_chain_is_refused(page: Page, server, anvil, shot):
    server.deploy("elsewhere", text_model(), encoder="MurmurHash3")
    wallet = wallet_page(page, server, anvil, chain_id="0x1")
    page.goto(f"{server.url}/#/models/elsewhere")
    tid(page, "account-select").select_option("wallet")
    expect(tid(page, "wallet-error")).to_contain_text("wrong network: the wallet is on chain 1, the dashboard on chain 31337")
    tid(page, "contribute-input").fill("great")
    tid(page, "contribute-submit").click()
    expect(tid(page, "contribute-error")).to_contain_text("wrong network")
    assert wallet.sent == []
    assert server.get("/api/models/elsewhere")["contributions"] == 0
    shot(page, "wrong-chain")
