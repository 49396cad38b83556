"""``ledgerlearn bench market`` on real IMDB reviews, small sizes, fast engine."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ledgerlearn.cli.main import app

pytestmark = pytest.mark.dataset


def test_bench_market_json_has_one_row_per_size_and_gas_grows_with_the_test_set():
    result = CliRunner().invoke(app, ["bench", "market", "--sizes", "10,20,40", "--contributions", "3", "--engine", "fast", "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout[result.stdout.index("{"):])
    rows = out["rows"]
    assert [r["test_size"] for r in rows] == [10, 20, 40]
    assert all(r["max_call_gas"] < out["step_gas_limit"] for r in rows)
    features = [r["test_features"] for r in rows]
    gas = [r["reward_gas_per_contribution"] for r in rows]
    assert features == sorted(features) and gas[0] < gas[1] < gas[2]
    assert not any(r["gas_exact"] for r in rows), "the fast engine's gas is an estimate and must say so"


def test_bench_market_rejects_sizes_smaller_than_the_piece_count():
    result = CliRunner().invoke(app, ["bench", "market", "--sizes", "5", "--pieces", "10"])
    assert result.exit_code != 0
    assert "--sizes" in result.output
