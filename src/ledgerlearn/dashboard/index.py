"""A shared model's events, read once and then incrementally.

Listing the 10,000th page of contributions must not re-read and re-decode
every ``DataAdded`` event of the model, nor call the contract once per
contribution. :class:`ModelIndex` keeps the decoded events in memory and, on
each :meth:`~ModelIndex.sync`, reads only the blocks mined since the last one.
What remains of each deposit follows from the events alone (a refund pays all
that remains, each report its amount), so candidates for a page can be
filtered without contract calls; the page itself is then completed from the
contract (:meth:`SharedModel.fill_state`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from ledgerlearn.chain.base import checksum
from ledgerlearn.shared_models.client import Contribution, SharedModel, hex_str



class ModelIndex:
    """Decoded events of one shared model, oldest first."""

    def __init__(self, model: SharedModel):
        self.model = model
        self.next_block = model.from_block
        self.contributions: list[Contribution] = []
        self.events: list[dict] = []  # every decoded event (charts read them)
        self._by_ref: dict[str, int] = {}  # tx hash and key (lower case) -> position
        self._by_author: dict[str, list[int]] = {}
        self.refunds: dict[str, int] = {}  # key -> amount refunded
        self.reports: dict[str, list[tuple[str, int]]] = {}  # key -> [(reporter, amount)]

    def sync(self) -> bool:
        """Read the blocks mined since the last sync; True when there were new events."""
        chain = self.model.chain
        head = chain.block_number
        if head < self.next_block:
            return False
        logs = chain.get_logs(address=self.model.address, from_block=self.next_block, to_block=head)
        self.next_block = head + 1
        abi = self.model.contract.abi
        before = len(self.events)
        for log in logs:
            d = abi.decode_log(log)
            if d is not None:
                self._add(d)
        return len(self.events) > before

    def _add(self, d: dict) -> None:
        self.events.append(d)
        name = d["event"]
        if name == "DataAdded":
            c = self.model._contribution_from_event(d)
            pos = len(self.contributions)
            self.contributions.append(c)
            self._by_ref[c.tx_hash.lower()] = pos
            self._by_ref[c.key.lower()] = pos
            self._by_author.setdefault(c.author, []).append(pos)
        elif name == "Refund":
            self.refunds[hex_str(d["key"])] = self.refunds.get(hex_str(d["key"]), 0) + d["amount"]
        elif name == "Report":
            self.reports.setdefault(hex_str(d["key"]), []).append((checksum(d["reporter"]), d["amount"]))

    # ------------------------------------------------------------- queries
    @property
    def version(self) -> int:
        """Changes whenever the model's parameters may have: they change only in ``add_data``."""
        return len(self.contributions)

    def find(self, ref: str) -> Contribution | None:
        """A contribution by its transaction hash or key (a fresh copy)."""
        pos = self._by_ref.get(ref.strip().lower())
        return None if pos is None else dataclasses.replace(self.contributions[pos])

    def count(self, author: str | None = None) -> int:
        return len(self._by_author.get(author, ())) if author else len(self.contributions)

    def newest_first(self, author: str | None = None) -> Iterator[Contribution]:
        """Contributions (all, or one author's), newest first, as fresh copies with event-derived state."""
        positions = self._by_author.get(author, []) if author else range(len(self.contributions))
        for pos in reversed(positions):
            yield self.with_event_state(self.contributions[pos])

    def page(self, *, author: str | None, offset: int, limit: int) -> list[Contribution]:
        """Newest first, with event-derived state (:meth:`with_event_state`)."""
        positions = self._by_author.get(author, []) if author else range(len(self.contributions))
        n = len(positions)
        chosen = [positions[n - 1 - i] for i in range(offset, min(n, offset + limit))]
        return [self.with_event_state(self.contributions[p]) for p in chosen]

    def with_event_state(self, c: Contribution) -> Contribution:
        """A copy of ``c`` with remaining, claims, refunded and reporters as the events tell."""
        c = dataclasses.replace(c)
        reports = self.reports.get(c.key, [])
        refunded = c.key in self.refunds
        c.refunded = refunded
        c.reported_by = tuple(r for r, _ in reports)
        c.claims = len(reports) + int(refunded)
        c.remaining = 0 if refunded else max(0, c.deposit - sum(a for _, a in reports))
        return c

    def reporters(self) -> dict[str, list[str]]:
        return {k: [r for r, _ in v] for k, v in self.reports.items()}
