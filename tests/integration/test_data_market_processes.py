"""The data market with every role in its own process, on one embedded chain data directory.

A model owner (``market data serve-owner``) and six data owners (``market data
join``) coordinate only through the shared chain and the blob store folder.
One data owner drops out in round 2 after posting its keys: the others reveal
their shares, anyone recovers the group sum, and the task still closes with
everyone paid what the contract says.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledgerlearn.chain.local import LocalChain
from ledgerlearn.markets.data.client import CLOSED, DataMarketTask

pytestmark = pytest.mark.dataset

CLI = [sys.executable, "-m", "ledgerlearn.cli.main"]
N_DOS = 6
DROPOUT = 3  # owner index (account DROPOUT + 1)


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # seven processes share the machine
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=open(log, "w"), text=True, env=env)


def test_owner_and_six_data_owners_as_processes(tmp_path):
    data_dir = tmp_path / "ll"
    blobs = tmp_path / "blobs"
    address_file = tmp_path / "task.txt"
    common = ["--data-dir", str(data_dir), "--blobs", str(blobs), "--poll", "0.2"]
    owner = _spawn([
        "market", "data", "serve-owner", "--name", "t1", "--owners", str(N_DOS), "--group-size", "3", "--threshold", "2",
        "--rounds", "2", "--arch", "small", "--private-samples", "200", "--register-window", "5m",
        "--keys-window", "40s", "--submit-window", "40s", "--recover-window", "40s",
        "--address-file", str(address_file), "--format", "json", *common,
    ], tmp_path / "owner.log")
    deadline = time.time() + 180
    while not address_file.exists():
        assert owner.poll() is None, (tmp_path / "owner.log").read_text()
        assert time.time() < deadline, "the model owner did not create the task"
        time.sleep(0.5)
    dos = []
    for i in range(N_DOS):
        extra = ["--drop-round", "2"] if i == DROPOUT else []
        dos.append(_spawn([
            "market", "data", "join", "t1", "--owner-index", str(i), "--samples", "300", "--private-samples", "200",
            "-a", str(i + 1), *extra, *common,
        ], tmp_path / f"do{i}.log"))
    procs = [owner, *dos]
    try:
        for p in procs:
            p.wait(timeout=600)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for i, p in enumerate(procs):
        name = "owner.log" if i == 0 else f"do{i - 1}.log"
        assert p.returncode == 0, f"{name}:\n{(tmp_path / name).read_text()[-3000:]}"

    owner_events = [json.loads(line) for line in owner.stdout.read().splitlines() if line.startswith("{")]
    rounds = [e for e in owner_events if e.get("event") == "round"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert all(r["accuracy"] is not None for r in rounds)

    chain = LocalChain(data_dir / "chain")
    task = DataMarketTask(chain, address_file.read_text().strip())
    assert task.phase() == CLOSED
    accounts = chain.accounts
    dropout = accounts[DROPOUT + 1]
    results = task.results()
    assert [r.round for r in results] == [1, 2]
    assert all(r.valid == r.kept == 0b11 for r in results), "both groups valid and kept in both rounds"
    assert task.forfeited(2) == {dropout: task.params().deposit}
    for r in (1, 2):
        paid = task.paid(r)
        expected = set(accounts[1 : N_DOS + 1]) - ({dropout} if r == 2 else set())
        assert set(paid) == expected and set(paid.values()) == {task.params().reward}
    # Everyone but the dropout withdrew; what is left is exactly the dropout's round-1 reward.
    assert chain.balance(task.address) == task.balance_of(dropout) == task.params().reward
    for a in accounts[1 : N_DOS + 1]:
        if a != dropout:
            assert task.balance_of(a) == 0
    assert task.balance_of(accounts[0]) == 0
