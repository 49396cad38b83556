"""Markets on chain: the prediction-market bounty (:mod:`ledgerlearn.markets.bounty`)."""
