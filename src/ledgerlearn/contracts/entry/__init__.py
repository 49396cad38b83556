"""Entry contracts: generated from one template (see :mod:`.template`) by :mod:`ledgerlearn.contracts.registry`."""
