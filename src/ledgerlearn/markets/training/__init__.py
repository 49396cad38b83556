"""Ownership-preserving training market: skewed replicated subsets, deterministic (optionally encrypted) local training."""
