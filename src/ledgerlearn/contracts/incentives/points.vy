# pragma version ~=0.4.3
"""
@title Points (gamified incentive, no money)
@notice Adding data is free. Each contribution can be claimed exactly once:
        by its author after `refund_wait` if the current model agrees with it
        ("refund", which earns the author one point), or by someone else after
        `refund_wait` if the model disagrees ("report"). Scores are public.
@dev    Same internal API as `drt.vy`, so one entry template serves both.
        The waits are kept (and their order checked) for a uniform interface;
        `owner_claim_wait` and `any_claim_wait` have no effect here.
        Storage layout (one slot each):
          _config: last_update 40 bits | total_good 40 | refund_wait 32 |
                   owner_claim_wait 32 | any_claim_wait 32 | (unused) | live 1
          _records[key]: added_time 40 | claimed 1 | refunded 1 | (unused) | claimer 160 (top bits)
"""

# ---------------------------------------------------------------- events

event Refund:
    key: indexed(bytes32)
    author: indexed(address)
    amount: uint256


event Report:
    key: indexed(bytes32)
    reporter: indexed(address)
    amount: uint256


# ------------------------------------------------------------- constants

INCENTIVE: constant(String[8]) = "points"

_M32: constant(uint256) = 2**32 - 1
_M40: constant(uint256) = 2**40 - 1

_GOOD_SHIFT: constant(uint256) = 40
_RW_SHIFT: constant(uint256) = 80
_OW_SHIFT: constant(uint256) = 112
_AW_SHIFT: constant(uint256) = 144
_LIVE: constant(uint256) = 2**255

_CLAIMED: constant(uint256) = 2**40
_REFUNDED: constant(uint256) = 2**41
_CLAIMER_SHIFT: constant(uint256) = 96


# --------------------------------------------------------------- storage

_config: uint256
_records: HashMap[bytes32, uint256]

good_count: public(HashMap[address, uint256])


# ------------------------------------------------------------ initialise

@internal
def _init(refund_wait: uint256, owner_claim_wait: uint256, any_claim_wait: uint256, cost_weight: uint256):
    assert refund_wait <= owner_claim_wait, "points: refund_wait must be <= owner_claim_wait"
    assert owner_claim_wait <= any_claim_wait, "points: owner_claim_wait must be <= any_claim_wait"
    assert any_claim_wait <= _M32, "points: waits must be < 2**32 seconds"
    assert cost_weight == 0, "points: cost_weight must be 0 (no deposit)"
    assert self._config == 0, "points: already initialized"
    self._config = (
        (any_claim_wait << _AW_SHIFT) | (owner_claim_wait << _OW_SHIFT) | (refund_wait << _RW_SHIFT) | block.timestamp
    )


# ------------------------------------------------------------------ views

@external
@view
def incentive() -> String[8]:
    """
    @notice Name of the incentive mechanism: "points".
    """
    return INCENTIVE


@external
@view
def next_deposit() -> uint256:
    """
    @notice Always 0: contributing is free.
    """
    return 0


@external
@view
def refund_wait() -> uint256:
    """
    @notice Seconds after which a contribution can be claimed (refund or report).
    """
    return (self._config >> _RW_SHIFT) & _M32


@external
@view
def owner_claim_wait() -> uint256:
    """
    @notice Kept for a uniform interface; no effect under Points.
    """
    return (self._config >> _OW_SHIFT) & _M32


@external
@view
def any_claim_wait() -> uint256:
    """
    @notice Kept for a uniform interface; no effect under Points.
    """
    return (self._config >> _AW_SHIFT) & _M32


@external
@view
def cost_weight() -> uint256:
    """
    @notice Always 0: no deposit.
    """
    return 0


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
    @notice Score of `account`: one point per verified contribution.
    """
    return self.good_count[account]


@external
@view
def contribution(key: bytes32) -> (uint256, uint256, uint256, uint256):
    """
    @notice The record of a contribution: (0, 0, number of claims (0 or 1),
            time added); all 0 when unknown.
    """
    rec: uint256 = self._records[key]
    claims: uint256 = 0
    if rec & _CLAIMED != 0:
        claims = 1
    return 0, 0, claims, rec & _M40


@external
@view
def has_claimed(key: bytes32, account: address) -> bool:
    """
    @notice Whether `account` claimed this contribution (its author's refund or a report).
    """
    rec: uint256 = self._records[key]
    return rec & _CLAIMED != 0 and convert(rec >> _CLAIMER_SHIFT, address) == account


@external
@view
def refunded(key: bytes32) -> bool:
    """
    @notice Whether the contribution was claimed by its author (a refund).
    """
    return self._records[key] & _REFUNDED != 0


@external
@view
def pending_withdrawal(account: address) -> uint256:
    """
    @notice Always 0: no money moves under Points.
    """
    return 0


# ------------------------------------------------------------ internals

@internal
def _go_live():
    self._config |= _LIVE


@internal
def _add(key: bytes32, paid: uint256) -> uint256:
    config: uint256 = self._config
    assert config & _LIVE != 0, "setup: model is not finalized"
    assert paid == 0, "points: contributing is free (send no value)"
    assert self._records[key] == 0, "points: this contribution was already added"
    self._records[key] = block.timestamp
    self._config = (config & ~_M40) | block.timestamp
    return 0


@internal
@view
def _refund_check(key: bytes32) -> uint256:
    rec: uint256 = self._records[key]
    assert rec != 0, "points: data not found"
    assert block.timestamp >= (rec & _M40) + ((self._config >> _RW_SHIFT) & _M32), "points: too early to refund"
    assert rec & _CLAIMED == 0, "points: already claimed"
    return rec


@internal
def _refund_pay(key: bytes32, rec: uint256, author: address):
    self._records[key] = (convert(author, uint256) << _CLAIMER_SHIFT) | _REFUNDED | _CLAIMED | rec
    self.good_count[author] += 1
    self._config += 1 << _GOOD_SHIFT
    log Refund(key=key, author=author, amount=0)


@internal
@view
def _report_check(key: bytes32, reporter: address, author: address) -> (uint256, uint256, bool):
    rec: uint256 = self._records[key]
    assert rec != 0, "points: data not found"
    assert block.timestamp >= (rec & _M40) + ((self._config >> _RW_SHIFT) & _M32), "points: too early to report"
    assert rec & _CLAIMED == 0, "points: already claimed"
    assert reporter != author, "points: cannot report your own contribution"
    return rec, 0, True


@internal
def _report_pay(key: bytes32, rec: uint256, reporter: address, amount: uint256, mark: bool):
    self._records[key] = (convert(reporter, uint256) << _CLAIMER_SHIFT) | _CLAIMED | rec
    log Report(key=key, reporter=reporter, amount=0)


@internal
def _pay(account: address, amount: uint256):
    # Unreachable: `_add` refuses value, so there is never an excess to return.
    assert amount == 0, "points: no payments"


# -------------------------------------------------------------- external

@external
def withdraw():
    """
    @notice Nothing to withdraw under Points; always reverts.
    """
    raise "points: nothing to withdraw"
