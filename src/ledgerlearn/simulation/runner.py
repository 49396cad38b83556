"""Agent-based simulation in virtual time against the deployed contracts.

Every deposit, refund, report and model update is a transaction to the entry
contract on an embedded chain (pyrevm by default, py-evm with ``engine="exact"``),
so the economics and the model are the ones users get. The loop follows the
reference simulation: agents wake up at their own intervals (a priority queue
in virtual time); on each wake-up an agent may contribute the next training
sample, then goes through the contributions old enough to claim: it refunds its
own when the model agrees, reports others' when the model disagrees (after
having a verified contribution of its own), and takes whatever remains after
``any_claim_wait``.

Agents decide with a local copy of the model (a bit-exact mirror updated with
every accepted contribution), as a real client would; the contract has the
last word. The copy is compared with the on-chain model at every evaluation,
and any transaction the contract refuses is counted (``reverted``): both stay 0
in a correct run.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ledgerlearn.chain.base import Chain
from ledgerlearn.chain.contract import Contract, ContractABI
from ledgerlearn.contracts import registry
from ledgerlearn.errors import TransactionReverted, ValidationError
from ledgerlearn.models import DensePerceptron, ModelMirror, NaiveBayes, SparseCentroid, SparsePerceptron
from ledgerlearn.shared_models.deploy import deploy_shared_model
from ledgerlearn.simulation.agents import AgentSpec
from ledgerlearn.simulation.evaluate import Evaluator
from ledgerlearn.simulation.features import Features, features as load_features, initial_model
from ledgerlearn.simulation.record import AgentSummary, SimulationRecord
from ledgerlearn.simulation.scenario import Scenario

#: A balance sample is kept at most this often per agent (virtual seconds), plus every change of sign.
BALANCE_SAMPLE_S = 3600


class _Agent:
    __slots__ = ("spec", "address", "chain_start", "contributions", "refunds", "reports", "takes", "deposited", "received", "skipped")

    def __init__(self, spec: AgentSpec, address: str, chain_start: int):
        self.spec = spec
        self.address = address
        self.chain_start = chain_start
        self.contributions = self.refunds = self.reports = self.takes = self.skipped = 0
        self.deposited = self.received = 0  # wei


class _Item:
    """A contribution not yet fully claimed."""

    __slots__ = ("x", "xa", "label", "author", "added_time", "remaining", "reporters", "refunded", "pred_version", "pred", "checked")

    def __init__(self, x: list[int], label: int, author: _Agent, added_time: int, deposit: int):
        self.x = x
        self.xa = np.asarray(x, dtype=np.int64)  # for the numpy fast path
        self.label = label
        self.author = author
        self.added_time = added_time
        self.remaining = deposit
        self.reporters: set[str] = set()
        self.refunded = False
        self.pred_version = -1
        self.pred = -1
        self.checked: dict[str, int] = {}  # agent address -> time of its last look at this item


@dataclass
class _Counters:
    txs: int = 0
    gas: int = 0
    reverted: int = 0
    revert_reasons: dict[str, int] = field(default_factory=dict)
    mirror_checks: int = 0
    mirror_mismatches: int = 0


def make_chain(engine: str) -> Chain:
    """A fresh embedded chain in virtual time."""
    if engine == "exact":
        from ledgerlearn.chain.local import LocalChain

        return LocalChain(clock="virtual")
    from ledgerlearn.chain.fast import FastLocalChain

    return FastLocalChain(clock="virtual")


class Simulation:
    """One run of a :class:`Scenario`.

    Args:
        features: encoded data (default: loaded and encoded from the scenario's data set).
        chain: the chain to deploy on (default: a fresh embedded chain of ``scenario.engine``).
        on_progress: called as ``on_progress(done, total, unclaimed)`` while running.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        features: Features | None = None,
        chain: Chain | None = None,
        on_progress: Callable[[int, int, int], None] | None = None,
    ):
        self.scenario = scenario
        self._features = features
        self.chain = chain
        self.on_progress = on_progress

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        sc = self.scenario
        f = self._features or load_features(sc.dataset, sc.model)
        if f.model != sc.model:
            raise ValidationError(f"features: encoded for {f.model!r}, the scenario runs {sc.model!r}")
        f = f.shuffled(sc.seed)
        self.f = f
        n_init = int(len(f.y_train) * sc.init_fraction)
        self.n_init = n_init
        stream = len(f.y_train) - n_init
        self.n_stream = stream if sc.max_contributions is None else min(stream, sc.max_contributions)
        self.initial = initial_model(f, n_init, seed=sc.seed)
        if self.chain is None:
            self.chain = make_chain(sc.engine)
        accounts = self.chain.accounts
        if len(sc.agents) > len(accounts) - 1:
            raise ValidationError(f"agents: at most {len(accounts) - 1} agents on this chain (one account is the owner)")
        self.owner = accounts[0]
        t_deploy = time.perf_counter()
        res = deploy_shared_model(
            self.chain, self.initial, incentive=sc.incentive, name=f"{sc.dataset} {sc.model}"[:128],
            description=f"ledgerlearn simulation, seed {sc.seed}", encoder=f.encoder, owner=self.owner,
            refund_wait=sc.refund_wait_s, owner_claim_wait=sc.owner_wait, any_claim_wait=sc.any_claim_wait_s,
            cost_weight=sc.cost_weight_wei,
        )
        self.deploy_seconds = time.perf_counter() - t_deploy
        self.deploy_gas = res.gas_total
        self.address = res.address
        self.contract = Contract(self.chain, res.address, ContractABI(registry.entry_artifact(self.initial.kind, sc.incentive).abi))
        self.model = self.initial.copy()  # the agents' local copy
        self.version = 0
        self._reset_dense_weights()
        self.agents = [_Agent(spec, accounts[i + 1], self.chain.balance(accounts[i + 1])) for i, spec in enumerate(sc.agents)]
        self.t0 = self.chain.timestamp()
        self.counters = _Counters()
        self.rng = random.Random(sc.seed)
        test_X, test_y = f.x_test, f.y_test
        if sc.eval_size is not None and sc.eval_size < len(test_y):
            pick = sorted(random.Random(sc.seed + 1).sample(range(len(test_y)), sc.eval_size))
            test_X, test_y = [test_X[i] for i in pick], [test_y[i] for i in pick]
        self.eval_interval = Evaluator(test_X, test_y)
        self.eval_full = Evaluator(f.x_test, f.y_test) if test_X is not f.x_test else self.eval_interval

    # ----------------------------------------------------------------- chain
    def _goto(self, t: int) -> None:
        """Make the next block's timestamp ``t0 + t`` (or one second later than the last block)."""
        gap = self.t0 + t - self.chain.timestamp()
        if gap > 1:
            self.chain.advance_time(gap)

    def _send(self, name: str, *args, sender: str, value: int = 0):
        c = self.counters
        try:
            r = self.contract.transact(name, *args, sender=sender, value=value)
        except TransactionReverted as exc:
            c.reverted += 1
            c.revert_reasons[exc.reason] = c.revert_reasons.get(exc.reason, 0) + 1
            return None
        c.txs += 1
        c.gas += r.gas_used
        return r

    def _balance_units(self, a: _Agent) -> float:
        if self.scenario.incentive == "points":
            return float(self.contract.call("points", a.address))
        return a.spec.start_balance + (self.chain.balance(a.address) - a.chain_start) / self.scenario.unit_wei

    # ----------------------------------------------------------------- model
    def _predict(self, item: _Item) -> int:
        if item.pred_version != self.version:
            w = self._dense_w
            if w is not None:  # the same integers as the mirror, summed by numpy
                item.pred = 1 if self.model.intercept_ + int(w[item.xa].sum()) > 0 else 0
            elif isinstance(self.model, NaiveBayes):
                item.pred = self.model.predict(item.x, totals=self._class_sums)
            elif isinstance(self.model, SparseCentroid):
                item.pred = self.model.predict(item.x, sq_norms=self._class_sums)
            else:
                item.pred = self.model.predict(item.x)
            item.pred_version = self.version
        return item.pred

    def _reset_dense_weights(self) -> None:
        """Per-model aids for the many claim-check predictions: a numpy copy of a sparse
        perceptron's weights, the per-class totals (naive Bayes) or squared norms (sparse centroid)."""
        m = self.model
        self._dense_w = None
        self._class_sums = m.total_count_ if isinstance(m, NaiveBayes) else m.sq_norms_ if isinstance(m, SparseCentroid) else None
        if isinstance(m, SparsePerceptron) and m.n_features_in_ <= 2**22:
            w = np.zeros(m.n_features_in_, dtype=np.int64)
            for i, v in m.weights_.items():
                w[i] = v
            self._dense_w = w

    def _apply_update(self, x: list[int], label: int) -> None:
        m = self.model
        if isinstance(m, (SparsePerceptron, DensePerceptron)):
            if m.predict(x) == label:
                return  # mistake-driven: nothing changes
        m.update(x, label)
        if self._dense_w is not None:
            self._dense_w[x] += m.learning_rate_ if label == 1 else -m.learning_rate_
        elif isinstance(m, NaiveBayes):
            self._class_sums[label] = sum(m.feature_count_[label].values())
        elif isinstance(m, SparseCentroid):
            self._class_sums[label] = sum(v * v for v in m.sums_[label].values())
        self.version += 1

    def _read_chain_model(self) -> ModelMirror:
        if self.model.n_features_in_ > 2**20:
            raise ValidationError("simulation: hashed sparse models are not supported (too many features to read back)")
        return type(self.model).from_contract(self.contract)

    def _evaluate(self, t: int, full: bool = False) -> float:
        chain_model = self._read_chain_model()
        c = self.counters
        c.mirror_checks += 1
        if chain_model != self.model:
            c.mirror_mismatches += 1
            self.model = chain_model  # the contract is the truth
            self.version += 1
            self._reset_dense_weights()
        ev = self.eval_full if full else self.eval_interval
        acc = ev.accuracy(chain_model)
        self.accuracies.append((t, acc))
        self.last_accuracy = acc
        return acc

    # ------------------------------------------------------------------ run
    def run(self) -> SimulationRecord:
        sc = self.scenario
        wall0 = time.perf_counter()
        self._setup()
        f = self.f
        self.accuracies: list[tuple[int, float]] = []
        balances: dict[str, list[tuple[int, float]]] = {a.spec.name: [(0, self._balance_units(a))] for a in self.agents}
        last_sample: dict[str, int] = {a.spec.name: 0 for a in self.agents}
        initial_accuracy = self._evaluate(0, full=True)
        self.last_accuracy = initial_accuracy
        drt = sc.incentive == "drt"
        rw, aw = sc.refund_wait_s, sc.any_claim_wait_s
        recheck = sc.recheck_s
        unit = sc.unit_wei
        num_classes = len(f.classes)

        queue: list[tuple[int, int, _Agent]] = []
        seq = 0
        for a in self.agents:
            heapq.heappush(queue, (a.spec.next_wait(self.rng), seq, a))
            seq += 1
        unclaimed: list[_Item] = []
        next_index = 0
        next_eval = sc.eval_interval_s
        t = 0
        last_contribution_t = 0
        wall_loop = time.perf_counter()

        def record_balance(a: _Agent, t: int, force: bool = False) -> None:
            name = a.spec.name
            if force or t - last_sample[name] >= BALANCE_SAMPLE_S:
                balances[name].append((t, self._balance_units(a)))
                last_sample[name] = t

        while queue:
            if next_index >= self.n_stream and not unclaimed:
                break
            t, _, a = heapq.heappop(queue)
            if t >= next_eval:
                self._evaluate(t)
                next_eval = (t // sc.eval_interval_s + 1) * sc.eval_interval_s
                if self.on_progress:
                    self.on_progress(next_index, self.n_stream, len(unclaimed))
            self._goto(t)
            spec = a.spec
            balance = self._balance_units(a) if drt else math.inf
            changed = False

            # -- contribute the next sample
            if balance > 0 and next_index < self.n_stream:
                i = self.n_init + next_index
                x, true_label = f.x_train[i], f.y_train[i]
                label = spec.label_for(true_label, num_classes, self.rng)
                if not spec.good or self.rng.random() < self.last_accuracy + 0.15:
                    willing = spec.next_deposit(self.rng) if drt else 0.0
                    value = int(willing * unit) if drt else 0
                    if willing <= balance:
                        need = self.contract.call("next_deposit") if drt else 0
                        if value >= need:
                            r = self._send("add_data", x, label, sender=a.address, value=value)
                            if r is not None:
                                ev = self.contract.events("DataAdded", r.logs)[0]
                                a.contributions += 1
                                a.deposited += ev["deposit"]
                                unclaimed.append(_Item(x, label, a, ev["added_time"], ev["deposit"]))
                                self._apply_update(x, label)
                                next_index += 1
                                last_contribution_t = t
                                changed = True
                        else:
                            a.skipped += 1  # not willing to pay the current deposit: wait
            if balance > 0 or not drt:
                heapq.heappush(queue, (t + spec.next_wait(self.rng), seq, a))
                seq += 1

            # -- claims: refund own, report others', take what is left after the wait
            done_data = next_index >= self.n_stream
            now = max(self.t0 + t, self.chain.timestamp() + 1)  # the next block's time (see _goto)
            claimed: list[int] = []
            for k, item in enumerate(unclaimed):
                age = now - item.added_time
                if age < rw:
                    break  # the list is in order of addition
                if done_data and age < aw:
                    break  # at the end everyone waits for the take-all
                r = None
                if age >= aw and drt:
                    r = self._send("report", item.x, item.label, item.added_time, item.author.address, sender=a.address)
                    if r is not None:
                        a.takes += 1
                elif recheck and now - item.checked.get(a.address, -recheck) < recheck:
                    pass  # looked at it recently (Scenario.recheck_s)
                elif item.author is a:
                    item.checked[a.address] = now
                    if not item.refunded and self._predict(item) == item.label:
                        r = self._send("refund", item.x, item.label, item.added_time, sender=a.address)
                        if r is not None:
                            a.refunds += 1
                            item.refunded = True
                elif a.address not in item.reporters and (not drt or self._good(a)) and self._check(item, a, now) != item.label:
                    r = self._send("report", item.x, item.label, item.added_time, item.author.address, sender=a.address)
                    if r is not None:
                        a.reports += 1
                        item.reporters.add(a.address)
                if r is not None:
                    changed = True
                    paid = sum(e["amount"] for e in self.contract.events(None, r.logs) if e["event"] in ("Refund", "Report"))
                    a.received += paid
                    item.remaining -= paid
                    if not drt or item.remaining <= 0:
                        claimed.append(k)
                elif age >= aw:
                    # Points: nobody can claim it any more; DRT: the take was refused (counted
                    # in `reverted`). Either way stop trying, so the run ends.
                    claimed.append(k)
            for k in reversed(claimed):
                unclaimed.pop(k)
            if changed:
                record_balance(a, t)
            if self.on_progress and changed and next_index % 500 == 0:
                self.on_progress(next_index, self.n_stream, len(unclaimed))

        loop_seconds = time.perf_counter() - wall_loop
        final_accuracy = self._evaluate(t, full=True)
        for a in self.agents:
            record_balance(a, t, force=True)
        verify = self._verify_predictions()
        wall = time.perf_counter() - wall0
        if self.on_progress:
            self.on_progress(next_index, self.n_stream, len(unclaimed))
        return SimulationRecord(
            scenario=sc.to_dict(),
            address=self.address,
            classes=list(f.classes),
            n_train=len(f.y_train),
            n_test=len(f.y_test),
            n_init=self.n_init,
            contributions=next_index,
            initial_accuracy=initial_accuracy,
            final_accuracy=final_accuracy,
            accuracies=[[int(tt), float(v)] for tt, v in self.accuracies],
            balances={k: [[int(tt), float(v)] for tt, v in vs] for k, vs in balances.items()},
            agents=[self._summary(a, balances[a.spec.name]) for a in self.agents],
            unclaimed_at_end=len(unclaimed),
            virtual_seconds=int(t),
            last_contribution_s=int(last_contribution_t),
            transactions=self.counters.txs,
            gas_total=self.counters.gas,
            gas_exact=self.scenario.engine == "exact",
            reverted=self.counters.reverted,
            revert_reasons=dict(self.counters.revert_reasons),
            mirror_checks=self.counters.mirror_checks,
            mirror_mismatches=self.counters.mirror_mismatches,
            verified_predictions=verify[0],
            verified_agree=verify[1],
            deploy_gas=self.deploy_gas,
            wall_seconds=wall,
            loop_seconds=loop_seconds,
            contract_balance_wei=self.chain.balance(self.address),
            unclaimed_deposits_wei=sum(i.remaining for i in unclaimed) if drt else 0,
        )

    def _check(self, item: _Item, a: _Agent, now: int) -> int:
        item.checked[a.address] = now
        return self._predict(item)

    def _good(self, a: _Agent) -> bool:
        """Whether ``a`` has a verified (refunded) contribution, needed to report before the take-all wait."""
        return a.refunds > 0

    def _verify_predictions(self) -> tuple[int, int]:
        """On-chain ``predict`` vs the mirror on the test set (or ``verify_size`` samples of it)."""
        f, sc = self.f, self.scenario
        idx = range(len(f.y_test))
        if sc.verify_size is not None and sc.verify_size < len(f.y_test):
            idx = sorted(random.Random(sc.seed + 2).sample(range(len(f.y_test)), sc.verify_size))
        mirror = self.eval_full.predict(self.model)
        agree = 0
        n = 0
        for i in idx:
            n += 1
            if self.contract.call("predict", f.x_test[i]) == int(mirror[i]):
                agree += 1
        return n, agree

    def _summary(self, a: _Agent, series: list[tuple[int, float]]) -> AgentSummary:
        end = series[-1][1]
        start = a.spec.start_balance
        return AgentSummary(
            name=a.spec.name, behaviour=a.spec.behaviour, address=a.address, start=start, end=end,
            percent_of_start=(100.0 * end / start) if self.scenario.incentive == "drt" else None,
            contributions=a.contributions, refunds=a.refunds, reports=a.reports, takes=a.takes,
            deposited_wei=a.deposited, received_wei=a.received, skipped=a.skipped,
        )


def run(scenario: Scenario, **kwargs) -> SimulationRecord:
    """Run ``scenario`` (see :class:`Simulation`)."""
    return Simulation(scenario, **kwargs).run()

