"""The reference's IMDB headline on the real contracts (shortened in CI; the full run is `slow`)."""

import pytest

from ledgerlearn.simulation import Scenario, Simulation, features, single_pass

pytestmark = pytest.mark.dataset


@pytest.fixture(scope="module")
def imdb_perceptron():
    return features("imdb", "perceptron")


def _invariants(rec):
    assert rec.reverted == 0 and rec.mirror_mismatches == 0
    assert rec.verified_agree == rec.verified_predictions > 0
    assert rec.contract_balance_wei == rec.unclaimed_deposits_wei


def test_headline_shortened(imdb_perceptron):
    rec = Simulation(Scenario(max_contributions=4000, eval_size=5000, verify_size=2000), features=imdb_perceptron).run()
    _invariants(rec)
    honest, bad = rec.agent("honest"), rec.agent("malicious")
    assert bad.end < bad.start < honest.end
    lo, hi = rec.accuracy_range
    assert rec.initial_accuracy - 0.02 <= lo and hi <= rec.initial_accuracy + 0.02


@pytest.mark.slow
def test_headline_full(imdb_perceptron):
    rec = Simulation(Scenario(), features=imdb_perceptron).run()
    _invariants(rec)
    assert rec.contributions == 23_000 and rec.verified_predictions == 25_000
    assert rec.agent("honest").percent_of_start > 150 and rec.agent("malicious").percent_of_start < 25
    lo, hi = rec.accuracy_range
    assert rec.initial_accuracy - 0.02 <= lo and hi <= rec.initial_accuracy + 0.02


@pytest.mark.slow
@pytest.mark.parametrize("model,floor", [("perceptron", 0.80), ("naive-bayes", 0.82), ("nearest-centroid", 0.73)])
def test_single_pass_accuracy(model, floor):
    r = single_pass(features("imdb", model), seed=0)
    assert r.contributions == 25_000 and r.predictions_agree == r.predictions_checked == 25_000
    assert r.accuracy >= floor
