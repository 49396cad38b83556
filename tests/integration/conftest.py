"""Fixtures for tests against a real anvil node (marker ``anvil``).

The node is installed from npm by ``make anvil`` (``ledgerlearn node install``);
CI runs that before the tests. Without the binary these tests are skipped with
the reason; with it they always run.
"""

from __future__ import annotations

import pytest

from ledgerlearn.chain.anvil import AnvilNode, find_anvil


def _require_anvil():
    binary = find_anvil()
    if binary is None:
        pytest.skip(
            "anvil binary not installed (run `make anvil` or `ledgerlearn node install`, "
            "or set LEDGERLEARN_ANVIL to an anvil binary)"
        )
    return binary


@pytest.fixture(scope="session")
def anvil_binary():
    """Path of the anvil binary; skips the test if there is none."""
    return _require_anvil()


@pytest.fixture(scope="session")
def anvil_node(anvil_binary):
    """One anvil node (``--no-mining``, in memory) shared by a test session (or xdist worker)."""
    node = AnvilNode(binary=anvil_binary)
    node.start()
    yield node
    node.stop()


@pytest.fixture
def fresh_anvil(anvil_binary):
    """Factory for extra nodes a test owns (fresh chain; stopped at the end)."""
    nodes: list[AnvilNode] = []

    def make(**kwargs) -> AnvilNode:
        node = AnvilNode(binary=anvil_binary, **kwargs)
        nodes.append(node)
        return node.start()

    yield make
    for node in nodes:
        node.stop()


@pytest.fixture
def rpc_chain(anvil_node):
    """An RpcChain on the shared node; the chain state is rolled back after the test."""
    from ledgerlearn.chain.rpc import RpcChain

    chain = RpcChain(anvil_node.url)
    snap = chain.snapshot()
    yield chain
    chain.revert(snap)
    chain.close()
