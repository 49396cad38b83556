"""The end-to-end demo behind ``make demo`` / ``ledgerlearn demo``.

On a fresh exact-gas embedded chain: train a small naive Bayes sentiment model off
chain, deploy it under Deposit-Refund-Take (refund after 1 day, the owner may
take after 8, anyone after 9), then let an honest account and a label-flipping
account contribute over a simulated day, advance time, refund and report, and
summarise accuracy, deposits, balances and gas per operation. Everything runs
through the real contracts and the public client API.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from ledgerlearn.chain.base import Chain
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.demo_data import Review, generate
from ledgerlearn.encoders import get_encoder
from ledgerlearn.errors import TransactionReverted
from ledgerlearn.models.naive_bayes import NaiveBayes
from ledgerlearn.shared_models.client import SharedModel
from ledgerlearn.shared_models.deploy import deploy_shared_model

DAY = 86_400
ENCODER = "MurmurHash3"


@dataclass
class AgentReport:
    name: str
    address: str
    contributions: int = 0
    deposited: int = 0
    refunded: int = 0
    taken: int = 0
    refused_refunds: int = 0
    start_balance: int = 0
    end_balance: int = 0

    @property
    def net(self) -> int:
        return self.end_balance - self.start_balance


@dataclass
class DemoSummary:
    model_address: str
    accuracy_before: float
    accuracy_after: float
    mirror_agrees: bool
    agents: list[AgentReport]
    gas: dict[str, list[int]] = field(default_factory=dict)
    deploy_gas: int = 0
    deploy_infrastructure_gas: int = 0
    gas_exact: bool = True

    def gas_summary(self) -> dict[str, dict[str, int]]:
        return {op: {"count": len(v), "avg": int(statistics.fmean(v)), "min": min(v), "max": max(v)} for op, v in self.gas.items() if v}


def _accuracy(client: SharedModel, test: list[Review]) -> float:
    return sum(client.predict(r.text) == r.label for r in test) / len(test)


def run_demo(chain: Chain | None = None, *, seed: int = 0, progress=print) -> DemoSummary:
    """Run the demo; ``progress`` receives one line per step."""
    chain = chain or LocalChain()
    reviews = generate(800, seed=seed)
    initial, pool, test = reviews[:160], reviews[160:560], reviews[560:]
    encoder = get_encoder(ENCODER)
    encode = lambda text: encoder.encode(text, "naive bayes")  # noqa: E731

    owner, honest, malicious = chain.accounts[:3]
    model = NaiveBayes(classes=("Negative", "Positive"))
    model.fit([encode(r.text) for r in initial], [r.label for r in initial])
    progress(f"trained an initial naive Bayes model off chain on {len(initial)} generated reviews")
    deployed = deploy_shared_model(
        chain, model, incentive="drt", name="sentiment", description="Demo sentiment classifier (generated reviews)",
        encoder=ENCODER, owner=owner, refund_wait=DAY, owner_claim_wait=8 * DAY, any_claim_wait=9 * DAY, cost_weight=10**15,
    )
    progress(f"deployed at {deployed.address} in {len(deployed.receipts)} transactions, {deployed.gas_total:,} gas")
    client = SharedModel(chain, deployed.address, from_block=deployed.deploy_block)
    mirror = model.copy()  # replays every accepted contribution off chain
    before = _accuracy(client, test)
    progress(f"accuracy on {len(test)} held-out reviews before contributions: {before:.1%}")

    agents = {
        honest: AgentReport("honest", honest, start_balance=chain.balance(honest)),
        malicious: AgentReport("label-flipping", malicious, start_balance=chain.balance(malicious)),
    }
    gas: dict[str, list[int]] = {"add_data": [], "refund": [], "report": []}
    exact = True
    # A simulated day: the honest account contributes every 10 minutes, the
    # malicious one every hour with the label flipped.
    schedule = sorted([(t * 600, honest) for t in range(1, 97)] + [(t * 3600 + 300, malicious) for t in range(1, 17)])
    items = iter(pool)
    now = 0
    for at, who in schedule:
        chain.advance_time(at - now)
        now = at
        review = next(items)
        label = review.label if who == honest else 1 - review.label
        res = client.contribute(review.text, label, sender=who)
        mirror.update(encode(review.text), label)
        agents[who].contributions += 1
        agents[who].deposited += res.deposit
        gas["add_data"].append(res.gas_used)
        exact &= res.gas_exact
    progress(f"{agents[honest].contributions} honest and {agents[malicious].contributions} label-flipped contributions added")

    chain.advance_time(DAY + 60)
    for who in (honest, malicious):
        for c in client.my_contributions(who):
            try:
                r = client.refund(c, sender=who)
            except TransactionReverted:
                agents[who].refused_refunds += 1
                continue
            agents[who].refunded += r.amount
            gas["refund"].append(r.gas_used)
    progress(f"after 1 day: honest refunded {agents[honest].refunded / 1e18:.3f} ETH; "
             f"{agents[malicious].refused_refunds} of the malicious refunds refused (model disagrees)")

    def take_all(reporter: str) -> None:
        for rep in client.reportable(reporter):
            r = client.report(rep.contribution, sender=reporter)
            agents[reporter].taken += r.amount
            gas["report"].append(r.gas_used)

    take_all(honest)
    progress(f"honest reported the bad data and took {agents[honest].taken / 1e18:.3f} ETH")
    chain.advance_time(9 * DAY)
    take_all(honest)  # after the last wait anyone may take what is left
    for a in agents.values():
        a.end_balance = chain.balance(a.address)
    after = _accuracy(client, test)
    # The off-chain mirror, updated with the same contributions, predicts exactly as the contract.
    mirror_ok = all(mirror.predict(encode(r.text)) == client.predict(r.text) for r in test)
    return DemoSummary(
        model_address=deployed.address, accuracy_before=before, accuracy_after=after, mirror_agrees=mirror_ok,
        agents=list(agents.values()), gas=gas, deploy_gas=deployed.gas_total,
        deploy_infrastructure_gas=deployed.infrastructure_gas, gas_exact=exact,
    )
