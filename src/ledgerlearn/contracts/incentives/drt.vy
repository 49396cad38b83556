# pragma version ~=0.4.3
"""
@title Deposit, Refund and Take (self-assessment incentive)
@notice To add data a contributor deposits
        `cost_weight * 3600 // isqrt(now - last_update)` wei (divisor 1 when
        no time passed; 0 when `cost_weight == 0`). After `refund_wait` the
        author gets the remaining deposit back if the current model agrees with
        the contribution (counting one verified, "good", contribution). Between
        `refund_wait` and `any_claim_wait` others who have verified
        contributions may report a contribution the model disagrees with and
        take a share proportional to their verified count; after
        `owner_claim_wait` the model's owner, and after `any_claim_wait`
        anyone, takes whatever remains.
@dev    Composed into an entry contract together with a model module. The
        entry contract computes the contribution key
        `keccak256(abi_encode(x, label, added_time, author))`, asks the model
        and calls the `_check` / `_pay` pairs below; the data itself is only
        published in the entry contract's `DataAdded` event.
        Storage layout (one slot each):
          _config: last_update 40 bits | total_good 40 | refund_wait 32 |
                   owner_claim_wait 32 | any_claim_wait 32 | cost_weight 79 |
                   live 1
          _records[key]: added_time 40 | claims 23 | refunded 1 |
                         initial deposit 96 | remaining 96
        Records are kept after they are settled, so `contribution(key)` keeps
        answering (initial deposit, claims) for clients.
        Payments go to `msg.sender` only (refund: the author, report and take:
        the reporter, excess: the contributor), are pushed last (checks,
        effects, interactions) under the entry contract's global re-entrancy
        lock, and are credited to `pending_withdrawal` when the push fails.
"""

import setup

uses: setup


# ---------------------------------------------------------------- events

event Refund:
    key: indexed(bytes32)
    author: indexed(address)
    amount: uint256


event Report:
    key: indexed(bytes32)
    reporter: indexed(address)
    amount: uint256


event PaymentDeferred:
    account: indexed(address)
    amount: uint256


event Withdrawal:
    account: indexed(address)
    amount: uint256


# ------------------------------------------------------------- constants

INCENTIVE: constant(String[8]) = "drt"

_M32: constant(uint256) = 2**32 - 1
_M40: constant(uint256) = 2**40 - 1
_M96: constant(uint256) = 2**96 - 1

# _config fields
_GOOD_SHIFT: constant(uint256) = 40
_RW_SHIFT: constant(uint256) = 80
_OW_SHIFT: constant(uint256) = 112
_AW_SHIFT: constant(uint256) = 144
_CW_SHIFT: constant(uint256) = 176
_MAX_COST_WEIGHT: constant(uint256) = 2**79 - 1
_LIVE: constant(uint256) = 2**255

# _records fields
_CLAIMS_SHIFT: constant(uint256) = 40
_MAX_CLAIMS: constant(uint256) = 2**23 - 1
_REFUNDED: constant(uint256) = 2**63
_INITIAL_SHIFT: constant(uint256) = 64
_REMAINING_SHIFT: constant(uint256) = 160


# --------------------------------------------------------------- storage

_config: uint256
_records: HashMap[bytes32, uint256]
_claimed: HashMap[bytes32, HashMap[address, bool]]

good_count: public(HashMap[address, uint256])
pending_withdrawal: public(HashMap[address, uint256])


# ------------------------------------------------------------ initialise

@internal
def _init(refund_wait: uint256, owner_claim_wait: uint256, any_claim_wait: uint256, cost_weight: uint256):
    assert refund_wait <= owner_claim_wait, "drt: refund_wait must be <= owner_claim_wait"
    assert owner_claim_wait <= any_claim_wait, "drt: owner_claim_wait must be <= any_claim_wait"
    assert any_claim_wait <= _M32, "drt: waits must be < 2**32 seconds"
    assert cost_weight <= _MAX_COST_WEIGHT, "drt: cost_weight must be < 2**79 wei"
    assert self._config == 0, "drt: already initialized"
    self._config = (
        (cost_weight << _CW_SHIFT)
        | (any_claim_wait << _AW_SHIFT)
        | (owner_claim_wait << _OW_SHIFT)
        | (refund_wait << _RW_SHIFT)
        | block.timestamp
    )


# ------------------------------------------------------------------ views

@external
@view
def incentive() -> String[8]:
    """
    @notice Name of the incentive mechanism: "drt".
    """
    return INCENTIVE


@external
@view
def next_deposit() -> uint256:
    """
    @notice Deposit (wei) that `add_data` requires in a transaction mined now.
    """
    return self._deposit(self._config)


@external
@view
def refund_wait() -> uint256:
    """
    @notice Seconds after which an author may claim a refund.
    """
    return (self._config >> _RW_SHIFT) & _M32


@external
@view
def owner_claim_wait() -> uint256:
    """
    @notice Seconds after which the model's owner may take what remains.
    """
    return (self._config >> _OW_SHIFT) & _M32


@external
@view
def any_claim_wait() -> uint256:
    """
    @notice Seconds after which anyone may take what remains.
    """
    return (self._config >> _AW_SHIFT) & _M32


@external
@view
def cost_weight() -> uint256:
    """
    @notice Deposit scale in wei.
    """
    return (self._config >> _CW_SHIFT) & _MAX_COST_WEIGHT


@external
@view
def last_update() -> uint256:
    """
    @notice Time of the last accepted contribution (initialisation time before any).
    """
    return self._config & _M40


@external
@view
def total_good() -> uint256:
    """
    @notice Number of verified (refunded) contributions, all authors together.
    """
    return (self._config >> _GOOD_SHIFT) & _M40


@external
@view
def points(account: address) -> uint256:
    """
    @notice Points score; always 0 under Deposit, Refund and Take.
    """
    return 0


@external
@view
def contribution(key: bytes32) -> (uint256, uint256, uint256, uint256):
    """
    @notice The record of a contribution: (initial deposit, remaining deposit,
            number of claims (the author's refund included), time added);
            all 0 when unknown.
    """
    rec: uint256 = self._records[key]
    return (
        (rec >> _INITIAL_SHIFT) & _M96,
        rec >> _REMAINING_SHIFT,
        (rec >> _CLAIMS_SHIFT) & _MAX_CLAIMS,
        rec & _M40,
    )


@external
@view
def has_claimed(key: bytes32, account: address) -> bool:
    """
    @notice Whether `account` has reported this contribution and was paid a
            share while some deposit remained (a reporter may report a
            contribution only once). The author's refund shows in
            `refunded(key)`; a take of everything that remains empties the
            record instead of marking the taker (see the `Report` events).
    """
    return self._claimed[key][account]


@external
@view
def refunded(key: bytes32) -> bool:
    """
    @notice Whether the author of this contribution has claimed its refund.
    """
    return self._records[key] & _REFUNDED != 0


# ------------------------------------------------------------ internals

@internal
@view
def _deposit(config: uint256) -> uint256:
    cost_weight: uint256 = (config >> _CW_SHIFT) & _MAX_COST_WEIGHT
    if cost_weight == 0:
        return 0
    root: uint256 = isqrt(block.timestamp - (config & _M40))
    if root == 0:
        root = 1
    return cost_weight * 3600 // root


@internal
def _go_live():
    """
    @dev Called by the entry contract's `finalize`: contributions open.
    """
    self._config |= _LIVE


@internal
def _add(key: bytes32, paid: uint256) -> uint256:
    """
    @dev Take the deposit for a contribution (key computed by the caller)
         and record it. Returns the deposit; the caller returns any excess
         with `_pay` after its own effects.
    """
    config: uint256 = self._config
    assert config & _LIVE != 0, "setup: model is not finalized"
    deposit: uint256 = self._deposit(config)
    assert paid >= deposit, "drt: deposit too low (see next_deposit)"
    assert self._records[key] == 0, "drt: this contribution was already added"
    self._records[key] = (deposit << _REMAINING_SHIFT) | (deposit << _INITIAL_SHIFT) | block.timestamp
    self._config = (config & ~_M40) | block.timestamp
    return deposit


@internal
@view
def _refund_check(key: bytes32) -> uint256:
    """
    @dev Checks of a refund that do not need the model; returns the record.
    """
    rec: uint256 = self._records[key]
    assert rec != 0, "drt: data not found"
    assert block.timestamp >= (rec & _M40) + ((self._config >> _RW_SHIFT) & _M32), "drt: too early to refund"
    assert rec & _REFUNDED == 0, "drt: already refunded"
    # Nothing left although there was a deposit: reporters or takers emptied it.
    assert rec >> _REMAINING_SHIFT != 0 or (rec >> _INITIAL_SHIFT) & _M96 == 0, "drt: already claimed by others"
    return rec


@internal
def _refund_pay(key: bytes32, rec: uint256, author: address):
    """
    @dev Effects and payment of a refund whose checks passed (model
         included): the author gets all that remains.
    """
    amount: uint256 = rec >> _REMAINING_SHIFT
    claims: uint256 = min(((rec >> _CLAIMS_SHIFT) & _MAX_CLAIMS) + 1, _MAX_CLAIMS)
    self._records[key] = (rec & ((_M96 << _INITIAL_SHIFT) | _M40)) | _REFUNDED | (claims << _CLAIMS_SHIFT)
    self.good_count[author] += 1
    self._config += 1 << _GOOD_SHIFT
    log Refund(key=key, author=author, amount=amount)
    self._pay(author, amount)


@internal
@view
def _report_check(key: bytes32, reporter: address, author: address) -> (uint256, uint256, bool):
    """
    @dev Checks of a report that do not need the model. Returns the record,
         the amount the reporter gets, and whether the model must disagree
         with the contribution (a report, not a take after a wait).
    """
    rec: uint256 = self._records[key]
    assert rec != 0, "drt: data not found"
    remaining: uint256 = rec >> _REMAINING_SHIFT
    assert remaining != 0, "drt: nothing left to claim"
    config: uint256 = self._config
    age: uint256 = block.timestamp - (rec & _M40)
    if age >= (config >> _AW_SHIFT) & _M32:
        return rec, remaining, False
    if age >= (config >> _OW_SHIFT) & _M32 and reporter == setup.owner:
        return rec, remaining, False
    assert age >= (config >> _RW_SHIFT) & _M32, "drt: too early to report"
    assert reporter != author, "drt: cannot report your own contribution"
    good: uint256 = self.good_count[reporter]
    assert good != 0, "drt: reporter has no verified contribution"
    assert not self._claimed[key][reporter], "drt: already reported by this address"
    reward: uint256 = ((rec >> _INITIAL_SHIFT) & _M96) * good // ((config >> _GOOD_SHIFT) & _M40)
    if reward == 0 or reward > remaining:
        reward = remaining
    return rec, reward, True


@internal
def _report_pay(key: bytes32, rec: uint256, reporter: address, amount: uint256, mark: bool):
    """
    @dev Effects and payment of a report or take whose checks passed. The
         reporter is marked only while something remains (a record with
         nothing left refuses every later claim anyway).
    """
    left: uint256 = (rec >> _REMAINING_SHIFT) - amount
    claims: uint256 = min(((rec >> _CLAIMS_SHIFT) & _MAX_CLAIMS) + 1, _MAX_CLAIMS)
    self._records[key] = (
        (left << _REMAINING_SHIFT) | (rec & ((_M96 << _INITIAL_SHIFT) | _REFUNDED | _M40)) | (claims << _CLAIMS_SHIFT)
    )
    if mark and left != 0:
        self._claimed[key][reporter] = True
    log Report(key=key, reporter=reporter, amount=amount)
    self._pay(reporter, amount)


@internal
def _pay(account: address, amount: uint256):
    """
    @dev Push `amount` wei to `account` (always the transaction's sender);
         credit `pending_withdrawal` if the push fails. Called last.
    """
    if amount == 0:
        return
    if not raw_call(account, b"", value=amount, revert_on_failure=False):
        self.pending_withdrawal[account] += amount
        log PaymentDeferred(account=account, amount=amount)


# -------------------------------------------------------------- external

@external
@nonreentrant
def withdraw():
    """
    @notice Pull payments whose push failed (see `pending_withdrawal`).
    """
    amount: uint256 = self.pending_withdrawal[msg.sender]
    assert amount != 0, "drt: nothing to withdraw"
    self.pending_withdrawal[msg.sender] = 0
    log Withdrawal(account=msg.sender, amount=amount)
    assert raw_call(msg.sender, b"", value=amount, revert_on_failure=False), "drt: transfer failed"
