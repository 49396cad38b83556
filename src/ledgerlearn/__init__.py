"""ledgerlearn: collaborative machine learning on Ethereum.

Shared models live in Vyper contracts; :mod:`ledgerlearn.chain` runs them on an
embedded EVM (:class:`~ledgerlearn.chain.LocalChain`) or any JSON-RPC node
(:class:`~ledgerlearn.chain.RpcChain`).
"""

__version__ = "0.1.0"
