"""Secure data market: model split, on-chain secure aggregation, robust aggregation, escrowed pay."""
