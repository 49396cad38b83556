"""Library API of the prediction-market bounty contract (``markets/bounty.vy``).

    market = BountyMarket.create(chain, provider=alice, bounty=10**18, model=initial,
                                 commitment=TestSetCommitment.split(test, 10), min_stake=10**15)
    market.reveal_initial(commitment)                      # provider, after the draw
    market.contribute({3: 1, 17: 1}, 1, sender=bob)       # anyone, with min_stake
    market.end(sender=bob)                                 # anyone, once allowed
    market.reveal_rest(commitment)                         # provider
    market.process_all(sender=carol)                       # anyone, bounded calls
    market.withdraw(sender=bob)

Every state change is one or more transactions to the contract; the data the
reward phase replays (contributions, revealed pieces) is read back from the
contract's events, so any account can drive ``process_all``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from ledgerlearn.chain.base import Chain, Receipt, TxRequest
from ledgerlearn.chain.contract import Contract, deploy
from ledgerlearn.contracts.compiler import Artifact, compile_file
from ledgerlearn.errors import ValidationError
from ledgerlearn.markets.bounty.encoding import (
    Features,
    TestPiece,
    TestSetCommitment,
    decode_samples,
    encode_sample,
    pack_pieces,
)
from ledgerlearn.markets.bounty.mirror import MAX_FEATURES, Perceptron

#: The contract's declared bounds and constants (MAX_FEATURES: see the mirror).
MAX_LOAD = 512
MAX_STEPS = 4096
DRAW_DELAY = 2
#: Gas limit of every reward-phase call: a quarter of a 30M block.
STEP_GAS_LIMIT = 7_500_000
LOAD_CHUNK = 256

PHASES = ("commitment", "participation", "reveal", "reward", "finished", "failed", "cancelled")
COMMITMENT, PARTICIPATION, REVEAL, REWARD, FINISHED, FAILED, CANCELLED = range(7)
NEED_NOTHING, NEED_SAMPLE, NEED_PIECES, NEED_STEP = range(4)
NO_INDEX = 2**256 - 1


@cache
def artifact() -> Artifact:
    """The compiled market contract."""
    return compile_file("markets/bounty.vy", "PredictionMarketBounty")


@dataclass(frozen=True)
class MarketOptions:
    """Economic options of a market (the reference's configuration flags)."""

    min_stake: int
    min_length_s: int = 0
    min_contributions: int = 0
    reveal_window_s: int = 7 * 86400
    any_claim_wait_s: int = 30 * 86400
    group_contributions: bool = False
    reset_model: bool = False
    allow_greater_deposit: bool = False


class BountyMarket:
    """A deployed prediction-market bounty."""

    def __init__(self, chain: Chain, address: str):
        self.chain = chain
        self.contract = Contract(chain, address, artifact().abi)

    @property
    def address(self) -> str:
        return self.contract.address

    # ------------------------------------------------------------ creation
    @classmethod
    def create(
        cls,
        chain: Chain,
        *,
        provider: str,
        bounty: int,
        model: Perceptron,
        commitment: TestSetCommitment,
        options: MarketOptions,
        encoder: str = "",
        on_receipt: Callable[[str, Receipt], None] | None = None,
    ) -> "BountyMarket":
        """Deploy a market holding ``bounty`` wei and load the initial model."""
        n = len(model.weights)
        if not 0 < n <= MAX_FEATURES:
            raise ValidationError(f"model: {n} features, expected 1 .. {MAX_FEATURES}")
        if bounty <= 0:
            raise ValidationError(f"bounty: must be a positive number of wei, got {bounty}")
        art = artifact()
        contract, receipt = deploy(
            chain, art.abi, art.bytecode,
            n, model.intercept, model.learning_rate, commitment.hashes,
            options.min_stake, options.min_length_s, options.min_contributions,
            options.reveal_window_s, options.any_claim_wait_s,
            options.group_contributions, options.reset_model, options.allow_greater_deposit, encoder,
            sender=provider, value=bounty,
        )
        _report(on_receipt, "create", receipt)
        market = cls(chain, contract.address)
        for start in range(0, n, LOAD_CHUNK):
            r = market.contract.transact("load_weights", model.weights[start : start + LOAD_CHUNK], sender=provider)
            _report(on_receipt, "load_weights", r)
        return market

    def add_test_hashes(self, hashes: Sequence[bytes], *, sender: str) -> Receipt:
        return self.contract.transact("add_test_hashes", list(hashes), sender=sender)

    def draw(self, *, sender: str) -> int:
        """Fix the index of the piece to reveal first, mining filler blocks up to the draw block if needed."""
        index = self.drawn_index()
        if index is not None:
            return index
        while self.chain.block_number <= self.call("draw_block"):
            self.chain.send(TxRequest(sender=sender, to=sender, value=0))
        self.contract.transact("draw", sender=sender)
        index = self.drawn_index()
        if index is None:  # the block hash had expired: a new draw block was set
            return self.draw(sender=sender)
        return index

    def reveal_initial(self, commitment: TestSetCommitment, *, sender: str | None = None) -> Receipt:
        """Provider: reveal the drawn piece; participation opens."""
        provider = sender or self.call("provider")
        index = self.draw(sender=provider)
        return self.contract.transact("reveal", commitment.pieces[index].words, sender=provider)

    def cancel(self, *, sender: str) -> Receipt:
        return self.contract.transact("cancel", sender=sender)

    # ------------------------------------------------------- participation
    def contribute(self, features: Features, label: int, *, sender: str, value: int | None = None) -> Receipt:
        """Add one labelled sample; ``value`` defaults to ``min_stake``."""
        words = encode_sample(features, label, num_features=self.call("num_features"))
        return self.contract.transact("contribute", words, sender=sender, value=self.call("min_stake") if value is None else value)

    def contribute_tx(self, features: Features, label: int, *, sender: str, value: int, num_features: int) -> TxRequest:
        """The transaction of :meth:`contribute`, for batching with ``chain.send_many``."""
        return self.contract.tx("contribute", encode_sample(features, label, num_features=num_features), sender=sender, value=value)

    def end(self, *, sender: str) -> Receipt:
        return self.contract.transact("end_market", sender=sender)

    def reveal_rest(self, commitment: TestSetCommitment, *, sender: str | None = None, on_receipt=None) -> list[Receipt]:
        """Provider: reveal every remaining piece, as many per call as fit."""
        provider = sender or self.call("provider")
        receipts = []
        while self.phase() == REVEAL:
            start = self.call("next_reveal")
            words = pack_pieces(self._pieces_from(commitment.pieces, start))
            r = self.contract.transact("reveal", words, sender=provider, gas=STEP_GAS_LIMIT)
            _report(on_receipt, "reveal", r)
            receipts.append(r)
        return receipts

    def declare_failed(self, *, sender: str) -> Receipt:
        return self.contract.transact("declare_failed", sender=sender)

    # -------------------------------------------------------------- reward
    def process_all(self, *, sender: str, max_steps: int = MAX_STEPS, on_receipt=None) -> list[Receipt]:
        """Drive the reward phase to its end in bounded calls (anyone may)."""
        pieces = self.revealed_pieces()
        samples = self.contribution_samples()
        receipts = []
        while self.phase() == REWARD:
            kind, index = self.contract.call("next_need")
            sample: list[int] = []
            stream: list[int] = []
            if kind == NEED_SAMPLE:
                sample = samples[index]
                stream = pack_pieces(self._pieces_from(pieces, 0))
            elif kind == NEED_PIECES:
                stream = pack_pieces(self._pieces_from(pieces, index))
            r = self.contract.transact("process", max_steps, sample, stream, sender=sender, gas=STEP_GAS_LIMIT)
            _report(on_receipt, "process", r)
            receipts.append(r)
        return receipts

    def _pieces_from(self, pieces: dict[int, TestPiece] | Sequence[TestPiece], start: int) -> Iterator[TestPiece]:
        drawn = self.drawn_index()
        indices = range(len(pieces)) if not isinstance(pieces, dict) else sorted(pieces)
        for j in indices:
            if j >= start and j != drawn:
                yield pieces[j]

    # ---------------------------------------------------------- collection
    def withdraw(self, *, sender: str) -> Receipt:
        return self.contract.transact("withdraw", sender=sender)

    def collect_unclaimed(self, account: str, *, sender: str) -> Receipt:
        return self.contract.transact("collect_unclaimed", account, sender=sender)

    # --------------------------------------------------------------- reads
    def call(self, name: str, *args):
        return self.contract.call(name, *args)

    def phase(self) -> int:
        return self.call("phase")

    def drawn_index(self) -> int | None:
        index = self.call("drawn_index")
        return None if index == NO_INDEX else index

    def bounty_left(self) -> int:
        return self.call("bounty_left")

    def balance_of(self, account: str) -> int:
        return self.call("balance_of", account)

    def contributions(self) -> list[dict]:
        """Contributed events in order: index, contributor, deposit, sample words."""
        return sorted(self.contract.events("Contributed"), key=lambda e: e["index"])

    def contribution_samples(self) -> list[list[int]]:
        return [list(e["sample"]) for e in self.contributions()]

    def contributors(self) -> list[str]:
        return list(dict.fromkeys(e["contributor"] for e in self.contributions()))

    def revealed_pieces(self) -> dict[int, TestPiece]:
        """Pieces revealed so far, by index, parsed from the TestData events."""
        hashes = {self.call("piece_hash", j): j for j in range(self.call("num_pieces"))}
        out: dict[int, TestPiece] = {}
        for ev in self.contract.events("TestData"):
            words = list(ev["pieces"])
            pos = 0
            while pos + 2 <= len(words):
                piece = TestPiece(words[pos], words[pos + 2 : pos + 2 + words[pos + 1]])
                pos += 2 + words[pos + 1]
                out[hashes[piece.hash]] = piece
        return out

    def test_samples(self) -> list[tuple[Features, int]]:
        """The revealed test set the reward phase scores on (the drawn piece excluded)."""
        drawn = self.drawn_index()
        return [s for j, p in sorted(self.revealed_pieces().items()) if j != drawn for s in decode_samples(p.body)]

    def zero_sum_gap(self, accounts: Sequence[str] | None = None) -> int:
        """Contract balance minus (bounty left + every contributor's balance); 0 when the books balance."""
        accounts = self.contributors() if accounts is None else accounts
        return self.chain.balance(self.address) - self.bounty_left() - sum(self.balance_of(a) for a in accounts)

    def status(self) -> dict:
        """Everything a participant wants to know, as plain values."""
        phase = self.phase()
        names = (
            "provider", "bounty", "encoder", "num_features", "learning_rate", "min_stake", "min_length_s", "min_contributions",
            "reveal_window_s", "any_claim_wait_s", "group_contributions", "reset_model", "allow_greater_deposit",
            "num_contributions", "num_participants", "active_participants", "test_samples", "rounds_left",
            "pass_number", "participation_start", "reveal_deadline", "finished_at", "draw_block", "num_pieces",
            "next_reveal", "initial_correct",
        )
        out = {"address": self.address, "phase": PHASES[phase]}
        out.update({n: self.call(n) for n in names})
        out["bounty_left"] = self.bounty_left()
        out["drawn_index"] = self.drawn_index()
        out["contract_balance"] = self.chain.balance(self.address)
        return out


def _report(on_receipt, what: str, receipt: Receipt) -> None:
    if on_receipt is not None:
        on_receipt(what, receipt)
