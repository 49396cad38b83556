"""RpcChain against a real anvil node: send, call, reverts, time, snapshots, batches, persistence."""

from __future__ import annotations

import textwrap

import pytest
from eth_account import Account
from eth_utils import keccak

from ledgerlearn.chain.accounts import (
    DEV_BALANCE_WEI,
    dev_accounts,
    load_keystore,
    write_keystore,
)
from ledgerlearn.chain.anvil import AnvilNode, anvil_version, install_anvil, ANVIL_VERSION
from ledgerlearn.chain.base import TxRequest
from ledgerlearn.chain.contract import Contract, deploy
from ledgerlearn.chain.rpc import RpcChain, sign_eip1559
from ledgerlearn.contracts.compiler import compile_source
from ledgerlearn.errors import ChainError, NotFoundError, TransactionReverted, ValidationError

pytestmark = pytest.mark.anvil

BANK = """
# pragma version ~=0.4.3
event Stored:
    key: indexed(uint256)
    who: indexed(address)
    amount: uint256

vals: public(HashMap[uint256, uint256])
count: public(uint256)
deposits: public(HashMap[address, uint256])

@external
def store(key: uint256, val: uint256) -> uint256:
    assert key < 1000, "bank: key too big"
    self.vals[key] = val
    self.count += 1
    log Stored(key=key, who=msg.sender, amount=val)
    return self.count

@external
def check(x: uint256):
    assert x > 5

@external
def custom(x: uint256):
    raw_revert(concat(method_id("Bad(uint256)"), convert(x, bytes32)))

@external
@payable
def deposit():
    self.deposits[msg.sender] += msg.value

@external
def withdraw(amount: uint256):
    assert self.deposits[msg.sender] >= amount, "bank: not enough"
    self.deposits[msg.sender] -= amount
    send(msg.sender, amount)

@external
@view
def now() -> uint256:
    return block.timestamp

@external
def only_until(last_block: uint256, base: uint256):
    assert block.number <= last_block, "bank: too late"
    for i: uint256 in range(25):
        self.vals[base + i] = 1  # ~550k gas of new slots
    self.count += 1
"""


@pytest.fixture(scope="module")
def bank_art():
    return compile_source(textwrap.dedent(BANK), "bank")


@pytest.fixture
def bank(rpc_chain, bank_art) -> Contract:
    contract, _ = deploy(rpc_chain, bank_art.abi, bank_art.bytecode, sender=rpc_chain.accounts[0])
    return contract


# ---------------------------------------------------------------- signing
@pytest.mark.parametrize("nonce", [0, 1, 127, 128, 65_536, 2**40])
@pytest.mark.parametrize("data", [b"", b"\x01", b"\x00" * 55, b"\xab" * 56, bytes(range(256)) * 5])
@pytest.mark.parametrize("create", [False, True])
def test_fast_signer_is_byte_identical_to_eth_account(nonce, data, create):
    from coincurve import PrivateKey

    acct = dev_accounts()[3]
    to = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    tx = dict(type=2, chainId=31337, nonce=nonce, maxPriorityFeePerGas=10**9, maxFeePerGas=3 * 10**9 + 7,
              gas=1_234_567, value=10**18 + 1, data=data)  # fmt: skip
    if not create:
        tx["to"] = to
    expected = Account.sign_transaction(tx, acct.key)
    raw, h = sign_eip1559(PrivateKey(bytes(acct.key)), 31337, nonce, 10**9, 3 * 10**9 + 7, 1_234_567,
                          b"" if create else bytes.fromhex(to[2:]), 10**18 + 1, data)  # fmt: skip
    assert raw == bytes(expected.raw_transaction)
    assert h == bytes(expected.hash)


# ---------------------------------------------------------------- basics
def test_node_runs_the_pinned_anvil(anvil_node):
    assert anvil_version(anvil_node.binary) == ANVIL_VERSION


def test_dev_accounts_are_funded_and_shared_with_local_chain(rpc_chain):
    from ledgerlearn.chain.local import LocalChain

    assert rpc_chain.chain_id == 31337
    assert rpc_chain.mine_mode == "manual"  # AnvilNode runs --no-mining
    assert rpc_chain.accounts == LocalChain().accounts
    assert rpc_chain.accounts[0] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert rpc_chain.balance(rpc_chain.accounts[9]) == DEV_BALANCE_WEI


def test_deploy_send_call_and_events(rpc_chain, bank_art):
    a = rpc_chain.accounts[0]
    bank, r0 = deploy(rpc_chain, bank_art.abi, bank_art.bytecode, sender=a)
    assert r0.status and r0.contract_address == bank.address and r0.gas_used > 53_000
    assert rpc_chain.code(bank.address) == bank_art.runtime_bytecode

    block_before = rpc_chain.block_number
    r = bank.transact("store", 7, 42, sender=a)
    assert r.status and r.gas_exact
    assert r.block_number == block_before + 1 == rpc_chain.block_number
    assert r.return_data == (1).to_bytes(32, "big")  # store() returned count == 1
    assert r.sender == a and r.to == bank.address
    assert r.timestamp == rpc_chain.timestamp()
    assert r.effective_gas_price == 10**9  # base fee 0 + the node's 1 gwei tip
    assert bank.call("vals", 7) == 42
    assert rpc_chain.storage(bank.address, 1) == 1  # `count` lives in slot 1

    (ev,) = bank.events("Stored", r.logs)
    assert (ev["key"], ev["who"], ev["amount"]) == (7, a, 42)
    assert [e["amount"] for e in bank.events("Stored")] == [42]  # from eth_getLogs too


def test_receipt_gas_equals_estimate_and_fees_are_accounted(rpc_chain, bank):
    a = rpc_chain.accounts[1]
    tx = bank.tx("store", 3, 9, sender=a)
    estimate = rpc_chain.estimate_gas(tx)
    before = rpc_chain.balance(a)
    r = rpc_chain.send(tx)
    assert r.gas_used == estimate
    assert rpc_chain.balance(a) == before - r.gas_used * r.effective_gas_price
    assert rpc_chain.receipt(r.tx_hash).gas_used == r.gas_used


def test_value_transfer_to_an_eoa_costs_21000(rpc_chain):
    a, b = rpc_chain.accounts[2], rpc_chain.accounts[3]
    before_a, before_b = rpc_chain.balance(a), rpc_chain.balance(b)
    r = rpc_chain.send(TxRequest(sender=a, to=b, value=12345))
    assert r.gas_used == 21_000
    assert rpc_chain.balance(b) == before_b + 12345
    assert rpc_chain.balance(a) == before_a - 12345 - 21_000 * r.effective_gas_price


def test_zero_fee_chain(anvil_node, bank_art):
    chain = RpcChain(anvil_node.url, max_priority_fee=0)
    snap = chain.snapshot()
    try:
        a = chain.accounts[4]
        before = chain.balance(a)
        r = chain.send(TxRequest(sender=a, to=chain.accounts[5], value=1))
        assert r.effective_gas_price == 0 and chain.balance(a) == before - 1
    finally:
        chain.revert(snap)


# ---------------------------------------------------------------- reverts
def test_revert_reason_and_nothing_mined(rpc_chain, bank):
    a = rpc_chain.accounts[0]
    block, nonce, balance = rpc_chain.block_number, rpc_chain.nonce(a), rpc_chain.balance(a)
    with pytest.raises(TransactionReverted) as exc:
        bank.transact("store", 5000, 1, sender=a)
    assert exc.value.reason == "bank: key too big"
    assert exc.value.gas_used and exc.value.gas_used > 21_000
    assert exc.value.tx_hash is None  # never sent
    assert (rpc_chain.block_number, rpc_chain.nonce(a), rpc_chain.balance(a)) == (block, nonce, balance)
    with pytest.raises(TransactionReverted, match="bank: key too big"):
        bank.call("store", 5000, 1)
    # the next transaction uses the nonce the reverted one did not consume
    assert bank.transact("store", 1, 1, sender=a).status
    assert rpc_chain.nonce(a) == nonce + 1


def test_revert_without_reason_and_custom_error(rpc_chain, bank):
    a = rpc_chain.accounts[0]
    with pytest.raises(TransactionReverted) as exc:
        bank.transact("check", 1, sender=a)
    assert exc.value.reason is None
    with pytest.raises(TransactionReverted) as exc:
        bank.transact("custom", 258, sender=a)
    expected = keccak(text="Bad(uint256)")[:4] + (258).to_bytes(32, "big")
    assert exc.value.reason == f"custom error 0x{expected.hex()}"
    bank.transact("check", 6, sender=a)


def test_too_little_gas_is_caught_before_sending(rpc_chain, bank):
    a = rpc_chain.accounts[0]
    nonce = rpc_chain.nonce(a)
    with pytest.raises(TransactionReverted, match="out of gas"):
        bank.transact("store", 1, 1, sender=a, gas=30_000)
    assert rpc_chain.nonce(a) == nonce


def test_unknown_sender_and_bad_arguments(rpc_chain, bank):
    stranger = Account.create().address
    with pytest.raises(ValidationError, match="sender"):
        bank.transact("store", 1, 1, sender=stranger)
    with pytest.raises(ValidationError, match="gas"):
        rpc_chain.send(TxRequest(sender=rpc_chain.accounts[0], to=bank.address, gas=10**9))
    with pytest.raises(ValidationError, match="address"):
        rpc_chain.balance("0x1234")


# ---------------------------------------------------------------- time and snapshots
def test_advance_time(rpc_chain, bank):
    t0 = rpc_chain.timestamp()
    t1 = rpc_chain.advance_time(3600)
    assert t1 >= t0 + 3600 and rpc_chain.timestamp() == t1
    assert bank.call("now") >= t1
    r = bank.transact("store", 1, 1, sender=rpc_chain.accounts[0])
    assert r.timestamp >= t1
    with pytest.raises(ValidationError, match="seconds"):
        rpc_chain.advance_time(-1)


def test_snapshot_and_revert(rpc_chain, bank):
    a = rpc_chain.accounts[0]
    bank.transact("store", 1, 10, sender=a)
    snap = rpc_chain.snapshot()
    block, t0, bal = rpc_chain.block_number, rpc_chain.timestamp(), rpc_chain.balance(a)
    bank.transact("store", 1, 20, sender=a)
    rpc_chain.advance_time(10_000)
    inner = rpc_chain.snapshot()
    assert bank.call("vals", 1) == 20
    rpc_chain.revert(snap)
    assert bank.call("vals", 1) == 10
    assert (rpc_chain.block_number, rpc_chain.timestamp(), rpc_chain.balance(a)) == (block, t0, bal)
    with pytest.raises(ValidationError, match="snapshot_id"):
        rpc_chain.revert(inner)  # later snapshots are dropped
    with pytest.raises(ValidationError, match="snapshot_id"):
        rpc_chain.revert(snap)  # and so is the one reverted to
    # nonces were resynchronised: sending still works
    assert bank.transact("store", 1, 30, sender=a).status


def test_get_logs_filters(rpc_chain, bank):
    a, b = rpc_chain.accounts[0], rpc_chain.accounts[1]
    start = rpc_chain.block_number + 1
    bank.transact("store", 1, 100, sender=a)
    bank.transact("store", 2, 200, sender=b)
    bank.transact("store", 1, 300, sender=b)
    topic0 = keccak(text="Stored(uint256,address,uint256)")
    key1 = (1).to_bytes(32, "big")
    who_b = bytes(12) + bytes.fromhex(b[2:])
    logs = rpc_chain.get_logs(address=bank.address, from_block=start)
    assert len(logs) == 3 and [lg.block_number for lg in logs] == sorted(lg.block_number for lg in logs)
    assert len(rpc_chain.get_logs(address=bank.address, topics=[topic0, key1], from_block=start)) == 2
    assert len(rpc_chain.get_logs(topics=[None, None, who_b], from_block=start)) == 2
    assert len(rpc_chain.get_logs(topics=[topic0, key1, who_b], from_block=start)) == 1
    assert len(rpc_chain.get_logs(address=bank.address, from_block=start, to_block=start)) == 1


# ---------------------------------------------------------------- batches
def test_send_many_200(rpc_chain, bank):
    accts = rpc_chain.accounts
    txs = [bank.tx("store", i, i + 1, sender=accts[i % 10]) for i in range(200)]
    block = rpc_chain.block_number
    results = rpc_chain.send_many(txs)
    assert all(not isinstance(r, Exception) and r.status for r in results), [r for r in results if isinstance(r, Exception)][:3]
    assert bank.call("count") == 200
    assert [r.return_data for r in results] == [(i + 1).to_bytes(32, "big") for i in range(200)]
    assert [bank.events("Stored", r.logs)[0]["amount"] for r in results] == [i + 1 for i in range(200)]
    assert all(r.block_number > block for r in results)
    # mined in the order given, across senders and blocks
    positions = [(r.block_number, r.logs[0].log_index) for r in results]
    assert positions == sorted(positions) and len(set(positions)) == 200
    # the gas matches what one-at-a-time sending charges for the same kind of write
    single = bank.transact("store", 201, 200, sender=accts[0])  # store(199, 200)'s twin: new slot, same calldata cost
    assert results[199].gas_used == single.gas_used


def test_send_many_keeps_order_across_blocks(rpc_chain, bank):
    # 400 writes of one slot from ten senders, in blocks of ~270 (by gas limit): the last write wins
    accts = rpc_chain.accounts
    txs = [bank.tx("store", 77, i, sender=accts[(i * 7) % 10], gas=110_000) for i in range(400)]
    res = rpc_chain.send_many(txs)
    positions = [(r.block_number, r.logs[0].log_index) for r in res]
    assert positions == sorted(positions) and len({b for b, _ in positions}) >= 2
    assert bank.call("vals", 77) == 399
    assert [bank.events("Stored", r.logs)[0]["amount"] for r in res] == list(range(400))


def test_send_many_sees_earlier_transactions_and_isolates_reverts(rpc_chain, bank):
    a, b = rpc_chain.accounts[5], rpc_chain.accounts[6]
    txs = [
        bank.tx("deposit", sender=a, value=1000),
        bank.tx("withdraw", 600, sender=a),  # only valid after the deposit in the same batch
        bank.tx("withdraw", 600, sender=a),  # now too much: reverts, is not sent
        bank.tx("store", 5000, 1, sender=b),  # reverts
        bank.tx("store", 1, 2, sender=b),
        TxRequest(sender=a, to=b, value=5),
        TxRequest(sender="0x0000000000000000000000000000000000000001", to=b),  # no key
    ]
    nonce_a = rpc_chain.nonce(a)
    res = rpc_chain.send_many(txs)
    assert res[0].status and res[1].status and res[4].status and res[5].status
    assert isinstance(res[2], TransactionReverted) and res[2].reason == "bank: not enough"
    assert isinstance(res[3], TransactionReverted) and res[3].reason == "bank: key too big"
    assert isinstance(res[6], ValidationError)
    assert bank.call("deposits", a) == 400
    assert rpc_chain.nonce(a) == nonce_a + 3  # deposit, withdraw, transfer
    assert res[5].gas_used == 21_000


def test_send_many_catches_too_little_explicit_gas(rpc_chain, bank):
    a = rpc_chain.accounts[0]
    bank.transact("store", 9, 1, sender=a)
    rewrite = bank.transact("store", 9, 2, sender=a).gas_used  # enough to rewrite a slot, not for a new one
    nonce = rpc_chain.nonce(a)
    res = rpc_chain.send_many([bank.tx("store", 10, 1, sender=a, gas=rewrite), bank.tx("store", 9, 3, sender=a, gas=rewrite)])
    assert isinstance(res[0], TransactionReverted) and "out of gas" in res[0].reason
    assert res[0].tx_hash is None  # caught by the simulation, never sent
    assert res[1].status and res[1].gas_used == rewrite
    assert rpc_chain.nonce(a) == nonce + 1


def test_send_many_reports_a_transaction_that_fails_once_mined(rpc_chain, bank):
    # The simulation runs a batch's calls in the next block; these 60 need more than one
    # 30M-gas block, so the last ones are mined a block later, where they revert.
    last = rpc_chain.block_number + 1
    res = rpc_chain.send_many([bank.tx("only_until", last, 1000 + 25 * i, sender=rpc_chain.accounts[i % 10]) for i in range(60)])
    ok = [r for r in res if not isinstance(r, Exception)]
    failed = [r for r in res if isinstance(r, Exception)]
    assert ok and failed and all(r.block_number == last for r in ok)
    assert all(isinstance(r, TransactionReverted) for r in failed)
    assert all(r.reason == "bank: too late" and r.tx_hash and r.gas_used > 21_000 for r in failed)
    assert bank.call("count") == len(ok)
    assert res.index(failed[0]) == len(ok)  # in order: the tail failed


def test_fallbacks_for_nodes_without_simulate_or_txpool(rpc_chain, bank):
    # Nodes without eth_simulateV1 / txpool_status: eth_call + eth_estimateGas pre-checks,
    # batches cut before a failure that may depend on earlier transactions, receipts polled.
    rpc_chain._simulate = False
    rpc_chain._txpool = False
    a = rpc_chain.accounts[4]
    r = bank.transact("store", 5, 6, sender=a)
    assert r.status and r.return_data == (1).to_bytes(32, "big")
    with pytest.raises(TransactionReverted, match="key too big"):
        bank.transact("store", 5000, 6, sender=a)
    res = rpc_chain.send_many([
        bank.tx("deposit", sender=a, value=100),
        bank.tx("withdraw", 60, sender=a),  # fails against the latest state, fine after the deposit
        bank.tx("withdraw", 60, sender=a),  # really fails
        *[bank.tx("store", i, i, sender=rpc_chain.accounts[i % 10]) for i in range(20)],
    ])
    assert res[0].status and res[1].status
    assert isinstance(res[2], TransactionReverted) and res[2].reason == "bank: not enough"
    assert all(r.status for r in res[3:])
    assert bank.call("deposits", a) == 40 and bank.call("count") == 21


def test_nonce_gap_is_detected_and_recovered(rpc_chain, bank):
    a = rpc_chain.accounts[9]
    bank.transact("store", 1, 1, sender=a)
    rpc_chain._nonces[a] += 1  # a stale counter: the next transaction waits behind a gap
    with pytest.raises(ChainError, match="not mined"):
        bank.transact("store", 1, 2, sender=a)
    assert bank.transact("store", 1, 3, sender=a).status  # counter resynchronised
    assert bank.call("vals", 1) == 3
    rpc_chain._nonces[a] += 1
    res = rpc_chain.send_many([bank.tx("store", 2, i, sender=a) for i in range(20)])
    assert all(isinstance(r, ChainError) for r in res)
    assert all(r.status for r in rpc_chain.send_many([bank.tx("store", 2, i, sender=a) for i in range(20)]))


def test_nonces_resync_when_another_client_uses_the_key(anvil_node, rpc_chain, bank):
    a = rpc_chain.accounts[7]
    other = RpcChain(anvil_node.url)
    bank.transact("store", 1, 1, sender=a)  # rpc_chain caches a's next nonce
    other.send(TxRequest(sender=a, to=rpc_chain.accounts[8], value=1))  # ... which is now used
    r = bank.transact("store", 1, 2, sender=a)  # "nonce too low": resynchronised and resent
    assert r.status and bank.call("vals", 1) == 2
    res = rpc_chain.send_many([bank.tx("store", 2, i, sender=a) for i in range(5)])
    assert all(x.status for x in res)
    # the same inside a big batch: several blocks' worth, the stale nonce in the first group
    other.send(TxRequest(sender=a, to=rpc_chain.accounts[8], value=1))
    accts = rpc_chain.accounts
    txs = [bank.tx("store", 3, i, sender=accts[7] if i % 3 == 0 else accts[i % 7], gas=100_000) for i in range(600)]
    res = rpc_chain.send_many(txs)
    assert all(not isinstance(x, Exception) and x.status for x in res), [x for x in res if isinstance(x, Exception)][:2]
    assert len({x.block_number for x in res}) >= 2
    assert bank.call("vals", 3) == 599  # the last one is the last applied
    other.close()


# ---------------------------------------------------------------- keystores
def test_keystore_account_can_send(tmp_path, rpc_chain, bank, monkeypatch):
    acct = Account.create()
    path = write_keystore(acct, tmp_path / "alice.json", "pw", kdf="pbkdf2", iterations=2)
    assert load_keystore(path, "pw").address == acct.address
    monkeypatch.setenv("LEDGERLEARN_PASSWORD", "pw")
    assert load_keystore(path).address == acct.address
    with pytest.raises(ValidationError, match="password"):
        load_keystore(path, "wrong")
    monkeypatch.delenv("LEDGERLEARN_PASSWORD")
    with pytest.raises(ValidationError, match="password"):
        load_keystore(path)
    with pytest.raises(NotFoundError, match="path"):
        load_keystore(tmp_path / "missing.json", "pw")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValidationError, match="path"):
        load_keystore(tmp_path / "junk.json", "pw")
    with pytest.raises(ValidationError, match="path"):
        write_keystore(acct, path, "pw")  # exists

    rpc_chain.send(TxRequest(sender=rpc_chain.accounts[0], to=acct.address, value=10**18))
    rpc_chain.add_account(load_keystore(path, "pw"))
    r = bank.transact("store", 4, 4, sender=acct.address)
    assert r.status and r.sender == acct.address


def test_keystore_only_chain(anvil_node, tmp_path):
    acct = Account.create()
    chain = RpcChain(anvil_node.url, accounts=[acct])
    assert chain.accounts == [acct.address]
    with pytest.raises(ValidationError, match="accounts"):
        RpcChain(anvil_node.url, accounts=[42])


# ---------------------------------------------------------------- configuration errors
def test_bad_urls(monkeypatch):
    monkeypatch.delenv("WEB3_PROVIDER_URI", raising=False)
    with pytest.raises(ValidationError, match="url"):
        RpcChain()
    with pytest.raises(ValidationError, match="url"):
        RpcChain("ws://127.0.0.1:1")
    with pytest.raises(ChainError, match="url"):
        RpcChain("http://127.0.0.1:9", timeout=2)
    with pytest.raises(ValidationError, match="mine_mode"):
        RpcChain("http://127.0.0.1:9", mine_mode="sometimes")


def test_url_from_environment(anvil_node, monkeypatch):
    monkeypatch.setenv("WEB3_PROVIDER_URI", anvil_node.url)
    chain = RpcChain()
    assert chain.url == anvil_node.url and chain.w3.eth.chain_id == 31337


def test_automine_node_is_waited_for(fresh_anvil):
    node = fresh_anvil(no_mining=False)
    chain = RpcChain(node.url)
    assert chain.mine_mode == "node"
    res = chain.send_many([TxRequest(sender=chain.accounts[0], to=chain.accounts[1], value=1) for _ in range(5)])
    assert all(r.status for r in res)


def test_anvil_start_failure_shows_its_output(anvil_binary):
    node = AnvilNode(binary=anvil_binary, extra_args=["--no-such-flag"])
    with pytest.raises(ChainError, match="no-such-flag"):
        node.start()
    assert not node.running


def test_install_is_idempotent(anvil_binary, tmp_path):
    # Already installed where find_anvil() found it: no download, same binary.
    prefix = anvil_binary.parents[3]
    if prefix.name != "node_modules":
        pytest.skip("anvil was not installed by install_anvil")
    assert install_anvil(prefix.parent) == anvil_binary


# ---------------------------------------------------------------- persistence
def test_state_survives_a_restart(fresh_anvil, tmp_path, bank_art):
    state = tmp_path / "chain" / "state.json"
    node = fresh_anvil(state_path=state)
    chain = RpcChain(node.url)
    a, b = chain.accounts[0], chain.accounts[1]
    bank, _ = deploy(chain, bank_art.abi, bank_art.bytecode, sender=a)
    stored = bank.transact("store", 11, 1234, sender=a)
    chain.send(TxRequest(sender=a, to=b, value=10**18))
    before = (chain.balance(a), chain.balance(b), chain.nonce(a), chain.block_number, chain.timestamp())
    old_url = node.url

    node.stop()
    assert state.exists() and state.stat().st_size > 0
    with pytest.raises(ChainError):
        RpcChain(old_url, timeout=2)
    node.start()

    chain = RpcChain(node.url)
    after = (chain.balance(a), chain.balance(b), chain.nonce(a), chain.block_number, chain.timestamp())
    assert after == before
    bank = Contract(chain, bank.address, bank_art.abi)
    assert bank.call("vals", 11) == 1234 and bank.call("count") == 1
    # history too: events (how clients find contributions) and receipts
    assert [e["amount"] for e in bank.events("Stored")] == [1234]
    assert chain.receipt(stored.tx_hash).gas_used == stored.gas_used
    assert bank.transact("store", 12, 1, sender=a).status  # and it keeps going
    assert bank.call("count") == 2


# ---------------------------------------------------------------- throughput
@pytest.mark.slow
def test_send_many_throughput(fresh_anvil, bank_art):
    import time

    node = fresh_anvil()
    chain = RpcChain(node.url)
    bank, _ = deploy(chain, bank_art.abi, bank_art.bytecode, sender=chain.accounts[0])
    txs = [bank.tx("store", i % 1000, i, sender=chain.accounts[i % 10]) for i in range(10_000)]
    t = time.perf_counter()
    res = chain.send_many(txs)
    rate = len(txs) / (time.perf_counter() - t)
    assert all(r.status for r in res)
    assert bank.call("count") == 10_000
    print(f"send_many: {rate:.0f} signed tx/s")
    assert rate > 1000
