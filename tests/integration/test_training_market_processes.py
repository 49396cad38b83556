"""The training market with every role in its own process, on one embedded chain data directory.

A data owner, six cloud owners (one returns a dummy model) and a model owner
run as ``ledgerlearn market training serve-*`` processes and coordinate only
through the shared chain and the blob store folder; each derives its
pseudonyms from its own secret file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from eth_utils import keccak

from ledgerlearn.chain.local import LocalChain
from ledgerlearn.markets.training.client import TrainingMarket

pytestmark = pytest.mark.dataset

CLI = [sys.executable, "-m", "ledgerlearn.cli.main"]
FRAUD = 4


def _run(args, **kw):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, **kw)


def _spawn(args, log):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=open(log, "w"), text=True, env=env)


def test_data_owner_cloud_owners_and_model_owner_as_processes(tmp_path):
    data_dir = tmp_path / "ll"
    common = ["--data-dir", str(data_dir), "--blobs", str(tmp_path / "blobs"), "--poll", "0.2"]
    dep = _run(["market", "training", "deploy", "--name", "tm", "--format", "json", "--data-dir", str(data_dir)])
    assert dep.returncode == 0, dep.stderr
    address = json.loads(dep.stdout)["market"]
    procs = {"do": _spawn(["market", "training", "serve-data-owner", "tm", "--dataset", "mnist-a", "--subsets", "2",
                           "--replicas", "3", "--train-samples", "3000", "--secret-file", str(tmp_path / "do.key"), *common],
                          tmp_path / "do.log")}
    for i in range(6):
        procs[f"co{i}"] = _spawn(["market", "training", "serve-cloud-owner", "tm", "--dataset", "mnist-a", "--index", str(i),
                                  "--behaviour", "dummy-model" if i == FRAUD else "honest",
                                  "--secret-file", str(tmp_path / f"co{i}.key"), *common], tmp_path / f"co{i}.log")
    procs["mo"] = _spawn(["market", "training", "serve-model-owner", "tm", "--dataset", "mnist-a", "--model", "m1",
                          "--rounds", "2", "--picks", "1", "--steps", "20", "--test-samples", "500", "--format", "json",
                          "--secret-file", str(tmp_path / "mo.key"), *common], tmp_path / "mo.log")
    deadline = time.time() + 600
    try:
        for name, p in procs.items():
            p.wait(timeout=max(1, deadline - time.time()))
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    for name, p in procs.items():
        assert p.returncode == 0, f"{name}:\n{(tmp_path / f'{name}.log').read_text()[-3000:]}"

    events = [json.loads(line) for line in procs["mo"].stdout.read().splitlines() if line.startswith("{")]
    rounds = [e for e in events if e["event"] == "round"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert rounds[-1]["accuracy"] > 0.5
    verdicts = {(r["round"], j["instance"]): j["verdict"] for r in rounds for j in r["jobs"]}
    assert {v for (_, i), v in verdicts.items() if i != FRAUD} == {"passed"}
    assert all(v == "fraud" for (_, i), v in verdicts.items() if i == FRAUD)
    assert any(i == FRAUD for _, i in verdicts)  # both subsets train, so the fraudster's did

    chain = LocalChain(data_dir / "chain")
    market = TrainingMarket(chain, address)
    couple = market.couple(keccak(b"ledgerlearn:couple:m1:mnist-a"))
    assert couple.status == "completed"
    assert chain.balance(market.address) == 0  # everyone withdrew what they were owed; the fraudster nothing
    fraudster = market.instance(keccak(b"ledgerlearn:mnist-a"), FRAUD).co
    assert all(e["paid"] == 0 for e in market.events("JobSettled") if e["co"].lower() == fraudster.lower())

    st = _run(["market", "training", "status", "tm", "--dataset", "mnist-a", "--format", "json", "--data-dir", str(data_dir)])
    assert st.returncode == 0, st.stderr
    doc = json.loads(st.stdout)
    assert [i["status"] for i in doc["instances"]] == ["verified"] * 6
    assert doc["couples"][0]["status"] == "completed"
