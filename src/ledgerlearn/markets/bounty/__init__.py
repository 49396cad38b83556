"""Prediction-market bounty on chain: encoding, contract client and off-chain mirror."""

from ledgerlearn.markets.bounty.client import BountyMarket, MarketOptions, PHASES, artifact
from ledgerlearn.markets.bounty.encoding import TestPiece, TestSetCommitment, decode_samples, encode_sample, piece_hash, to_features
from ledgerlearn.markets.bounty.mirror import Contribution, Outcome, Perceptron, settle

__all__ = [
    "BountyMarket", "Contribution", "MarketOptions", "Outcome", "PHASES", "Perceptron", "TestPiece",
    "TestSetCommitment", "artifact", "decode_samples", "encode_sample", "piece_hash", "settle", "to_features",
]
