"""Accounts shared by both chain backends: dev accounts and keystore files.

Dev accounts are derived from anvil's default mnemonic (``"test test ... junk"``)
on the standard path ``m/44'/60'/0'/0/i``, so :class:`~ledgerlearn.chain.local.LocalChain`
and an anvil node fund the *same* ten addresses (10,000 ether each) and a
script written against one backend runs unchanged on the other::

    from ledgerlearn.chain.accounts import dev_accounts
    alice, bob = dev_accounts()[:2]          # eth_account LocalAccount objects
    alice.address                            # '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'

Real keys live in encrypted keystore files (the "Web3 Secret Storage" JSON
format that geth, foundry's ``cast wallet`` and MetaMask export)::

    acct = load_keystore("~/.ledgerlearn/keys/alice.json")   # password from $LEDGERLEARN_PASSWORD
    acct = load_keystore(path, password="...")

The dev keys are public knowledge: never send real money to them.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic
from eth_account.signers.local import LocalAccount

# anvil's (and Hardhat's) default mnemonic and account count, shared with LocalChain.
from ledgerlearn.errors import NotFoundError, ValidationError

__all__ = [
    "DEV_MNEMONIC", "DEV_ACCOUNT_COUNT", "DEV_DERIVATION_PATH", "DEV_BALANCE_WEI", "PASSWORD_ENV",
    "dev_accounts", "dev_addresses", "dev_key", "account_from_key", "load_keystore", "write_keystore",
    "resolve_accounts",
]  # fmt: skip

#: anvil's (and Hardhat's) default mnemonic. Public: never use it on a real network.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
#: How many dev accounts are funded (anvil's default ``--accounts 10``).
DEV_ACCOUNT_COUNT = 10
#: BIP-44 path prefix; account ``i`` is ``DEV_DERIVATION_PATH + str(i)``.
DEV_DERIVATION_PATH = "m/44'/60'/0'/0/"
#: Balance of each dev account in wei (anvil's default ``--balance 10000`` ether).
DEV_BALANCE_WEI = 10_000 * 10**18
#: Environment variable holding the keystore password when none is passed.
PASSWORD_ENV = "LEDGERLEARN_PASSWORD"


@lru_cache(maxsize=4)
def _dev_accounts(mnemonic: str, count: int) -> tuple[LocalAccount, ...]:
    # One PBKDF2 seed derivation, then BIP-32 derivation per index: the same
    # keys as Account.from_mnemonic(mnemonic, account_path=path + str(i)).
    seed = seed_from_mnemonic(mnemonic, "")
    return tuple(Account.from_key(key_from_seed(seed, f"{DEV_DERIVATION_PATH}{i}")) for i in range(count))


def dev_accounts(count: int = DEV_ACCOUNT_COUNT, *, mnemonic: str = DEV_MNEMONIC) -> list[LocalAccount]:
    """The first ``count`` accounts of ``mnemonic`` (default: anvil's ten dev accounts).

    Derived with eth-account's HD wallet functions; cached, so repeated calls are free.
    """
    if not isinstance(count, int) or count < 0 or count > 1000:
        raise ValidationError(f"count: expected an int between 0 and 1000, got {count!r}")
    if not isinstance(mnemonic, str) or not mnemonic.strip():
        raise ValidationError("mnemonic: expected a BIP-39 phrase")
    try:
        return list(_dev_accounts(" ".join(mnemonic.split()), count))
    except Exception as exc:  # eth-utils ValidationError for a bad phrase
        raise ValidationError(f"mnemonic: {exc}") from exc


def dev_addresses(count: int = DEV_ACCOUNT_COUNT) -> list[str]:
    """Checksummed addresses of the dev accounts."""
    return [a.address for a in dev_accounts(count)]


def dev_key(index: int) -> bytes:
    """Private key (32 bytes) of dev account ``index``."""
    if not isinstance(index, int) or not 0 <= index < DEV_ACCOUNT_COUNT:
        raise ValidationError(f"index: expected 0..{DEV_ACCOUNT_COUNT - 1}, got {index!r}")
    return bytes(dev_accounts()[index].key)


def account_from_key(key: str | bytes) -> LocalAccount:
    """A :class:`LocalAccount` from a private key (32 bytes or ``0x`` hex)."""
    try:
        return Account.from_key(key)
    except Exception as exc:  # ValueError / ValidationError / binascii.Error
        raise ValidationError("key: not a valid secp256k1 private key (32 bytes or 0x-prefixed hex)") from exc


def _password(password: str | None) -> str:
    if password is None:
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            raise ValidationError(f"password: none given and ${PASSWORD_ENV} is not set")
    if not isinstance(password, str):
        raise ValidationError(f"password: expected a string, got {type(password).__name__}")
    return password


def load_keystore(path: str | os.PathLike, password: str | None = None) -> LocalAccount:
    """Decrypt a keystore JSON file into a :class:`LocalAccount`.

    ``password`` defaults to ``$LEDGERLEARN_PASSWORD``. Raises
    :class:`~ledgerlearn.errors.NotFoundError` if the file does not exist and
    :class:`~ledgerlearn.errors.ValidationError` naming ``path`` (not a keystore)
    or ``password`` (missing or wrong).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise NotFoundError(f"path: keystore file {str(p)!r} does not exist")
    try:
        keyfile = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError(f"path: {str(p)!r} is not a keystore JSON file: {exc}") from exc
    if not isinstance(keyfile, dict) or not ("crypto" in keyfile or "Crypto" in keyfile):
        raise ValidationError(f"path: {str(p)!r} is not a keystore file (no 'crypto' section)")
    pw = _password(password)
    try:
        key = Account.decrypt(keyfile, pw)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise ValidationError(f"password: wrong password for keystore {str(p)!r}") from None
        raise ValidationError(f"path: cannot decrypt keystore {str(p)!r}: {exc}") from exc
    except (KeyError, TypeError, NotImplementedError) as exc:
        raise ValidationError(f"path: unsupported or malformed keystore {str(p)!r}: {exc!r}") from exc
    return Account.from_key(key)


def write_keystore(
    account: LocalAccount | str | bytes,
    path: str | os.PathLike,
    password: str | None = None,
    *,
    overwrite: bool = False,
    kdf: str = "scrypt",
    iterations: int | None = None,
) -> Path:
    """Encrypt ``account`` (or a raw private key) into a keystore file (mode 0600).

    ``password`` defaults to ``$LEDGERLEARN_PASSWORD``. Refuses to replace an
    existing file unless ``overwrite``.
    """
    acct = account if isinstance(account, LocalAccount) else account_from_key(account)
    pw = _password(password)
    p = Path(path).expanduser()
    if p.exists() and not overwrite:
        raise ValidationError(f"path: {str(p)!r} exists (pass overwrite=True to replace it)")
    if kdf not in ("scrypt", "pbkdf2"):
        raise ValidationError(f"kdf: expected 'scrypt' or 'pbkdf2', got {kdf!r}")
    data = Account.encrypt(acct.key, pw, kdf=kdf, iterations=iterations)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, p)
    return p


def resolve_accounts(accounts: Iterable[LocalAccount | str | bytes] | None) -> list[LocalAccount]:
    """Normalise an ``accounts=`` argument: LocalAccounts or private keys (hex/bytes)."""
    if accounts is None:
        return []
    out: list[LocalAccount] = []
    for i, a in enumerate(accounts):
        if isinstance(a, LocalAccount):
            out.append(a)
        elif isinstance(a, (str, bytes)):
            try:
                out.append(account_from_key(a))
            except ValidationError:
                raise ValidationError(f"accounts: entry {i} is neither a LocalAccount nor a private key") from None
        else:
            raise ValidationError(f"accounts: entry {i} is a {type(a).__name__}, expected a LocalAccount or a private key")
    return out
