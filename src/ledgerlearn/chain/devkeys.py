"""Private keys of the funded development accounts.

They are derived from the mnemonic anvil and Hardhat use by default, so the
same ten addresses are funded on the embedded chain and on a local anvil node.
Never use them on a public network.
"""

from __future__ import annotations

from functools import lru_cache

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 10


@lru_cache(maxsize=1)
def dev_private_keys() -> tuple[bytes, ...]:
    """The 32-byte private keys of the dev accounts (BIP-44 path m/44'/60'/0'/0/i)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return tuple(
        bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key)
        for i in range(DEV_ACCOUNT_COUNT)
    )
