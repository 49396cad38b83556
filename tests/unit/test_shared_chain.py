"""One embedded chain directory shared by several processes (SharedLocalChain)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from ledgerlearn.chain.base import TxRequest
from ledgerlearn.chain.contract import Contract, deploy
from ledgerlearn.chain.local import DEV_BALANCE, LocalChain
from ledgerlearn.chain.shared import SharedLocalChain
from ledgerlearn.cli.common import Env, open_chain, open_shared_chain
from ledgerlearn.contracts.compiler import compile_source
from ledgerlearn.errors import ChainError, ValidationError

COUNTER = """
# pragma version ~=0.4.3
event Bumped:
    who: indexed(address)
    k: uint256
n: public(uint256)
@external
def bump(k: uint256):
    self.n += k
    log Bumped(who=msg.sender, k=k)
"""


@pytest.fixture(scope="module")
def counter_art():
    return compile_source(textwrap.dedent(COUNTER), "counter")


def _pair(tmp_path, **kw):
    d = tmp_path / "chain"
    return d, SharedLocalChain(d, **kw), SharedLocalChain(d, **kw)


def test_two_chains_see_each_others_transactions(tmp_path, counter_art):
    d, a, b = _pair(tmp_path)
    assert a.lock_path == tmp_path / "chain.lock"
    acc = a.accounts
    r1 = a.send(TxRequest(sender=acc[0], to=acc[5], value=7))
    assert b.balance(acc[5]) == DEV_BALANCE + 7 and b.nonce(acc[0]) == 1 and b.block_number == 1
    r2 = b.send(TxRequest(sender=acc[1], to=acc[5], value=11))
    assert r2.block_number == 2 and r2.timestamp >= r1.timestamp
    assert a.balance(acc[5]) == DEV_BALANCE + 18 and a.nonce(acc[1]) == 1 and a.block_number == 2
    assert a.receipt(r2.tx_hash) == r2 and b.receipt(r1.tx_hash) == r1

    # Contracts, calls and events, deployed by one and used by the other.
    ca, _ = deploy(a, counter_art.abi, counter_art.bytecode, sender=acc[0])
    cb = Contract(b, ca.address, counter_art.abi)
    rb = cb.transact("bump", 3, sender=acc[2])
    ra = ca.transact("bump", 4, sender=acc[3])
    assert ca.call("n") == 7 and cb.call("n") == 7
    assert [(e["who"], e["k"]) for e in ca.events("Bumped")] == [(acc[2], 3), (acc[3], 4)]
    assert [log.block_number for log in b.get_logs(ca.address)] == [rb.block_number, ra.block_number]
    assert b.code(ca.address) == a.code(ca.address) != b""
    assert a.storage(ca.address, 0) == b.storage(ca.address, 0) == 7

    # Time moves for everyone.
    t = int(time.time())
    assert a.advance_time(3600) >= t + 3600 and b.next_timestamp() >= t + 3600
    r = b.send(TxRequest(sender=acc[4], to=acc[5], value=1))
    assert r.timestamp >= t + 3600 and a.timestamp() == r.timestamp
    assert a.block_number == b.block_number == r.block_number
    a.close()
    b.close()
    fresh = LocalChain(d)
    assert fresh.block_number == r.block_number and fresh.balance(acc[5]) == DEV_BALANCE + 19


def test_checkpoints_by_one_are_picked_up_by_the_other(tmp_path):
    d, a, b = _pair(tmp_path, checkpoint_every=3)
    acc = a.accounts
    for i in range(4):  # the third record makes `a` checkpoint
        a.send(TxRequest(sender=acc[0], to=acc[9], value=1))
    reloads = b.local.reloads
    assert b.balance(acc[9]) == DEV_BALANCE + 4 and b.local.reloads == reloads + 1
    for i in range(5):  # now `b` checkpoints
        b.send(TxRequest(sender=acc[1], to=acc[9], value=10))
    assert a.balance(acc[9]) == DEV_BALANCE + 54 and a.block_number == 9
    a.send(TxRequest(sender=acc[0], to=acc[9], value=100))
    b.checkpoint()  # forced
    assert a.balance(acc[9]) == DEV_BALANCE + 154 and a.nonce(acc[0]) == 5 and a.nonce(acc[1]) == 5
    assert b.refresh() == 0  # nothing new
    a.close()
    b.close()
    assert LocalChain(d).balance(acc[9]) == DEV_BALANCE + 154


def test_torn_tail_of_a_dead_writer_is_dropped(tmp_path):
    d, a, b = _pair(tmp_path)
    acc = a.accounts
    a.send(TxRequest(sender=acc[0], to=acc[9], value=1))
    good = os.path.getsize(d / "journal.bin")
    with open(d / "journal.bin", "ab") as f:  # a writer died mid-record
        f.write(b"\x00\x00\x01\x00torn")
    assert b.balance(acc[9]) == DEV_BALANCE + 1 and b.block_number == 1
    assert os.path.getsize(d / "journal.bin") == good  # cut off under the lock
    b.send(TxRequest(sender=acc[1], to=acc[9], value=2))
    assert a.balance(acc[9]) == DEV_BALANCE + 3 and a.block_number == 2
    assert LocalChain(d).block_number == 2


def test_journal_left_by_a_crash_during_checkpoint_is_not_replayed_twice(tmp_path):
    d = tmp_path / "chain"
    c = LocalChain(d)
    acc = c.accounts
    for _ in range(3):
        c.send(TxRequest(sender=acc[0], to=acc[9], value=1))
    old_journal = (d / "journal.bin").read_bytes()
    c.checkpoint()
    (d / "journal.bin").write_bytes(old_journal)  # as if killed before the journal was emptied
    again = LocalChain(d)
    assert again.block_number == 3 and again.balance(acc[9]) == DEV_BALANCE + 3
    again.send(TxRequest(sender=acc[0], to=acc[9], value=1))
    assert LocalChain(d).balance(acc[9]) == DEV_BALANCE + 4


def test_unshared_writers_are_caught_not_interleaved(tmp_path):
    d = tmp_path / "chain"
    c1, c2 = LocalChain(d), LocalChain(d)
    acc = c1.accounts
    c1.send(TxRequest(sender=acc[0], to=acc[9], value=1))
    with pytest.raises(ChainError, match="another process"):
        c2.send(TxRequest(sender=acc[1], to=acc[9], value=2))
    assert c2.refresh() >= 1  # reloads, dropping its unjournaled transaction
    assert c2.balance(acc[9]) == DEV_BALANCE + 1
    c2.send(TxRequest(sender=acc[1], to=acc[9], value=2))
    assert c1.refresh() == 1 and c1.balance(acc[9]) == DEV_BALANCE + 3


def test_exclusive_is_reentrant_and_keeps_others_out(tmp_path):
    d, a, _ = _pair(tmp_path)
    b = SharedLocalChain(d, lock_timeout=0.2)
    acc = a.accounts
    with a.exclusive():
        with a.exclusive():
            a.send(TxRequest(sender=acc[0], to=acc[9], value=1))
        assert a.balance(acc[9]) == DEV_BALANCE + 1
        with pytest.raises(ChainError, match="still held"):
            b.balance(acc[9])
        a.send(TxRequest(sender=acc[0], to=acc[9], value=1))
    assert b.balance(acc[9]) == DEV_BALANCE + 2
    with pytest.raises(ValidationError, match="shared"):
        a.snapshot()
    with pytest.raises(ValidationError, match="shared"):
        a.revert(1)
    a.close()
    with pytest.raises(ChainError, match="closed"):
        a.balance(acc[9])


def test_one_shot_open_chain_makes_shared_users_wait(tmp_path):
    env = Env.create(None, data_dir=tmp_path)
    shared = open_shared_chain(env)
    assert isinstance(shared, SharedLocalChain) and shared.data_dir == tmp_path / "chain"
    acc = shared.accounts
    shared.send(TxRequest(sender=acc[0], to=acc[9], value=1))

    one_shot = Env.create(None, data_dir=tmp_path)
    chain = one_shot.chain  # open_chain: holds chain.lock until the command ends
    assert chain.balance(acc[9]) == DEV_BALANCE + 1
    result = {}

    def agent():
        result["receipt"] = shared.send(TxRequest(sender=acc[1], to=acc[9], value=2))

    t = threading.Thread(target=agent)
    t.start()
    time.sleep(0.3)
    assert t.is_alive()  # waiting for the one-shot command
    chain.send(TxRequest(sender=acc[0], to=acc[9], value=4))
    one_shot.close()  # checkpoints and releases the lock
    t.join(10)
    assert not t.is_alive() and result["receipt"].block_number == 3
    assert shared.balance(acc[9]) == DEV_BALANCE + 7
    shared.close()
    env2 = Env.create(None, data_dir=tmp_path)
    assert open_chain(env2).balance(acc[9]) == DEV_BALANCE + 7
    env2.close()


def test_lock_file_is_the_one_open_chain_holds(tmp_path):
    shared = SharedLocalChain(tmp_path / "chain", lock_timeout=0.1)
    with open(tmp_path / "chain.lock", "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ChainError, match="still held"):
            shared.block_number
    assert shared.block_number == 0


AGENT = """
import json, os, sys, time
from ledgerlearn.chain.base import TxRequest
from ledgerlearn.chain.shared import SharedLocalChain
d, idx, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chain = SharedLocalChain(d, checkpoint_every=25)
open(os.path.join(os.path.dirname(d), f"ready-{idx}"), "w").close()
while not os.path.exists(os.path.join(os.path.dirname(d), "go")):
    time.sleep(0.005)
me, to = chain.accounts[idx], chain.accounts[9]
txs = []
for i in range(n):
    r = chain.send(TxRequest(sender=me, to=to, value=idx * 1000 + 1))
    txs.append([r.tx_hash, r.block_number])
    chain.balance(to)  # poll between transactions
chain.close()
print(json.dumps({"txs": txs, "replayed": chain.replayed}))
"""


def test_three_processes_send_concurrently(tmp_path):
    d, n, senders = tmp_path / "chain", 30, [1, 2, 3]
    procs = [
        subprocess.Popen([sys.executable, "-c", AGENT, str(d), str(i), str(n)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        for i in senders
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{i}").exists() for i in senders):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    blocks = sorted(b for o in outs for _, b in o["txs"])
    assert blocks == list(range(1, 3 * n + 1))  # every block once, no gaps
    assert all(o["replayed"] > 0 for o in outs)  # each replayed the others'

    chain = LocalChain(d)
    acc = chain.accounts
    assert chain.block_number == 3 * n
    for o in outs:
        for h, b in o["txs"]:
            assert chain.receipt(h).block_number == b
    for i in senders:
        assert chain.nonce(acc[i]) == n and chain.balance(acc[i]) == DEV_BALANCE - n * (i * 1000 + 1)
    assert chain.balance(acc[9]) == DEV_BALANCE + n * sum(i * 1000 + 1 for i in senders)


def test_failed_journal_write_does_not_leave_a_phantom_transaction(tmp_path, monkeypatch):
    from ledgerlearn.chain import local

    d, a, b = _pair(tmp_path)
    acc = a.accounts
    a.send(TxRequest(sender=acc[0], to=acc[9], value=1))

    def broken(self, record):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(local._Journal, "append", broken)
        with pytest.raises(OSError, match="disk full"):
            a.send(TxRequest(sender=acc[0], to=acc[9], value=100))
    # Executed in memory but never journaled: `a` rebuilds from disk, `b` never sees it.
    assert a.balance(acc[9]) == b.balance(acc[9]) == DEV_BALANCE + 1 and a.nonce(acc[0]) == 1
    a.send(TxRequest(sender=acc[0], to=acc[9], value=2))
    assert b.balance(acc[9]) == DEV_BALANCE + 3 and b.block_number == a.block_number == 2


def test_directories_written_before_generations_still_load(tmp_path):
    """Checkpoints without a generation and journals without an epoch record (older versions)."""
    import pickle

    from ledgerlearn.chain.local import _Journal

    d = tmp_path / "chain"
    c = LocalChain(d)
    acc = c.accounts
    c.send(TxRequest(sender=acc[0], to=acc[9], value=1))
    c.checkpoint()
    c.send(TxRequest(sender=acc[0], to=acc[9], value=2))
    c.send(TxRequest(sender=acc[0], to=acc[9], value=4))
    c.close(checkpoint=False)
    payload = pickle.loads((d / "checkpoint.pkl").read_bytes())
    del payload["generation"]
    (d / "checkpoint.pkl").write_bytes(pickle.dumps(payload))
    records, _ = _Journal.read(d / "journal.bin")
    assert records[0][0] == "epoch"
    (d / "journal.bin").unlink()
    j = _Journal(d / "journal.bin")
    for rec in records[1:]:
        j.append(rec)
    j.close()
    old = LocalChain(d)
    assert old.block_number == 3 and old.balance(acc[9]) == DEV_BALANCE + 7
    shared = SharedLocalChain(d)
    assert shared.balance(acc[9]) == DEV_BALANCE + 7
    shared.send(TxRequest(sender=acc[0], to=acc[9], value=8))
    shared.close()
    assert LocalChain(d).balance(acc[9]) == DEV_BALANCE + 15
