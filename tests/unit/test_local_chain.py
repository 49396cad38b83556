"""The embedded chain: exact gas, reverts that change nothing, time, snapshots, durability."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from ledgerlearn.chain.base import TxRequest
from ledgerlearn.chain.contract import Contract, deploy
from ledgerlearn.chain.fast import FastLocalChain
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.contracts.compiler import compile_source
from ledgerlearn.errors import TransactionReverted, ValidationError

COUNTER = """
# pragma version ~=0.4.3
event Bumped:
    who: indexed(address)
    k: uint256
n: public(uint256)
m: public(uint256)
@external
@payable
def bump(k: uint256):
    assert k < 100, "counter: k too big"
    self.n += k
    log Bumped(who=msg.sender, k=k)
@external
def clear():
    self.n = 0
@external
@view
def now() -> uint256:
    return block.timestamp
"""


@pytest.fixture(scope="module")
def counter_art():
    return compile_source(textwrap.dedent(COUNTER), "counter")


@pytest.fixture(params=[LocalChain, FastLocalChain], ids=["exact", "fast"])
def chain(request):
    return request.param()


def test_dev_accounts_match_anvil_defaults():
    chain = LocalChain()
    assert chain.accounts[0] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert len(chain.accounts) == 10
    assert chain.balance(chain.accounts[0]) == 10_000 * 10**18


def test_value_transfer_costs_exactly_21000():
    chain = LocalChain()
    a, b = chain.accounts[:2]
    before = chain.balance(b)
    r = chain.send(TxRequest(sender=a, to=b, value=123))
    assert r.gas_used == 21_000 and r.gas_exact
    assert chain.balance(b) == before + 123


def test_storage_gas_is_transaction_gas_on_every_call(counter_art):
    """Cold SSTORE 0->x costs 22,100; a later x->y on a fresh transaction 5,000 (not warm)."""
    chain = LocalChain()
    a = chain.accounts[0]
    c, _ = deploy(chain, counter_art.abi, counter_art.bytecode, sender=a)
    g1 = c.transact("bump", 1, sender=a).gas_used
    g2 = c.transact("bump", 1, sender=a).gas_used
    g3 = c.transact("bump", 1, sender=a).gas_used
    assert g1 - g2 == 22_100 - 5_000  # zero->nonzero vs nonzero->nonzero, both cold
    assert g2 == g3  # the journal is finalised between transactions
    # Clearing a slot earns the capped refund (4,800), so it is cheaper than the write.
    g_clear = c.transact("clear", sender=a).gas_used
    assert g_clear < g2


def test_revert_reason_and_nothing_changes(chain, counter_art):
    a = chain.accounts[0]
    c, _ = deploy(chain, counter_art.abi, counter_art.bytecode, sender=a)
    c.transact("bump", 5, sender=a, value=10)
    nonce, block, bal = chain.nonce(a), chain.block_number, chain.balance(c.address)
    with pytest.raises(TransactionReverted) as exc:
        c.transact("bump", 500, sender=a, value=10)
    assert exc.value.reason == "counter: k too big"
    assert (c.call("n"), chain.nonce(a), chain.block_number, chain.balance(c.address)) == (5, nonce, block, bal)
    with pytest.raises(TransactionReverted, match="k too big"):
        c.call("bump", 500)


def test_events_decode(chain, counter_art):
    a = chain.accounts[1]
    c, _ = deploy(chain, counter_art.abi, counter_art.bytecode, sender=chain.accounts[0])
    r = c.transact("bump", 7, sender=a)
    (ev,) = c.events("Bumped", r.logs)
    assert ev["who"] == a and ev["k"] == 7
    assert [e["k"] for e in c.events("Bumped")] == [7]


def test_time_travel_and_snapshots(chain, counter_art):
    a = chain.accounts[0]
    c, _ = deploy(chain, counter_art.abi, counter_art.bytecode, sender=a)
    t0 = chain.timestamp()
    chain.advance_time(86_400)
    r = c.transact("bump", 1, sender=a)
    assert r.timestamp >= t0 + 86_400
    sid = chain.snapshot()
    c.transact("bump", 2, sender=a)
    chain.advance_time(1000)
    assert c.call("n") == 3
    chain.revert(sid)
    assert c.call("n") == 1 and chain.timestamp() == r.timestamp
    c.transact("bump", 4, sender=a)  # the chain goes on after a revert
    assert c.call("n") == 5
    with pytest.raises(ValidationError, match="snapshot_id"):
        chain.revert(sid)


def test_unknown_sender_is_refused(chain):
    with pytest.raises(ValidationError, match="sender"):
        chain.send(TxRequest(sender="0x" + "12" * 20, to=chain.accounts[0], value=1))


def test_fast_chain_says_gas_is_not_exact(counter_art):
    chain = FastLocalChain()
    c, r = deploy(chain, counter_art.abi, counter_art.bytecode, sender=chain.accounts[0])
    assert not r.gas_exact
    assert not c.transact("bump", 1, sender=chain.accounts[0]).gas_exact


@pytest.mark.parametrize("cls", [LocalChain, FastLocalChain], ids=["exact", "fast"])
def test_state_survives_reopen_and_torn_journal(tmp_path, counter_art, cls):
    d = tmp_path / "chain"
    chain = cls(d, checkpoint_every=5) if cls is LocalChain else cls(d)
    a = chain.accounts[0]
    c, _ = deploy(chain, counter_art.abi, counter_art.bytecode, sender=a)
    for _ in range(12):
        c.transact("bump", 1, sender=a)
    chain.advance_time(3600)
    ts = chain.timestamp()
    # Simulate a crash mid-write: garbage at the end of the journal, no close().
    with open(d / "journal.bin", "ab") as f:
        f.write(b"\x00\x00\x01\x00torn")
    del chain
    again = cls(d)
    c2 = Contract(again, c.address, counter_art.abi)
    assert c2.call("n") == 12 and again.timestamp() == ts
    r = c2.transact("bump", 1, sender=a)
    assert r.timestamp >= ts + 3600 and c2.call("n") == 13
    again.close()
    assert Contract(cls(d), c.address, counter_art.abi).call("n") == 13


KILL_SCRIPT = """
import os, signal, sys
from ledgerlearn.chain.local import LocalChain
from ledgerlearn.chain.base import TxRequest
chain = LocalChain(sys.argv[1], checkpoint_every=3)
a, b = chain.accounts[:2]
for i in range(10):
    chain.send(TxRequest(sender=a, to=b, value=1))
print(chain.balance(b), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_kill_9_keeps_every_acknowledged_transaction(tmp_path):
    d = tmp_path / "chain"
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(d)], capture_output=True, text=True, env=os.environ.copy())
    assert proc.returncode == -9, proc.stderr
    acknowledged = int(proc.stdout.strip())
    chain = LocalChain(d)
    assert chain.balance(chain.accounts[1]) == acknowledged
    assert chain.block_number == 10


def test_a_durable_chain_replays_transactions_of_keys_only_another_process_holds(tmp_path):
    """Pseudonym keys stay in the process that holds them; another reader of the journal replays
    their transactions unsigned, to the same state."""
    from eth_account import Account

    a = LocalChain(tmp_path)
    pseudonym = a.add_account(Account.create())
    a.send(TxRequest(sender=a.accounts[0], to=pseudonym, data=b"", value=10**18))
    a.send(TxRequest(sender=pseudonym, to=a.accounts[1], data=b"", value=10**17))
    b = LocalChain(tmp_path)  # holds no key for the pseudonym
    assert pseudonym not in b.accounts
    assert b.balance(pseudonym) == a.balance(pseudonym) and b.nonce(pseudonym) == 1
    a.send(TxRequest(sender=pseudonym, to=a.accounts[1], data=b"", value=10**17))
    assert b.refresh() == 1 and b.balance(a.accounts[1]) == a.balance(a.accounts[1])
    with pytest.raises(ValidationError, match="not an account of this chain"):
        b.send(TxRequest(sender=pseudonym, to=a.accounts[1], data=b"", value=1))


def test_wall_clock_advance_counts_from_blocks_ahead_of_the_clock(tmp_path):
    """Many blocks in one second put the chain ahead of the wall clock; advancing still moves a full step."""
    chain = LocalChain(tmp_path / "chain", clock="wall")
    a, b = chain.accounts[:2]
    for _ in range(30):  # 30 blocks, each one second after the last: ahead of the wall clock
        chain.send(TxRequest(sender=a, to=b, value=1))
    before = chain.timestamp()
    chain.advance_time(3600)
    after = chain.send(TxRequest(sender=a, to=b, value=1)).timestamp
    assert after >= before + 3600
    chain.close()
    again = LocalChain(tmp_path / "chain", clock="wall")  # the journal replays the same offset
    assert again.timestamp() == after
    again.close()
