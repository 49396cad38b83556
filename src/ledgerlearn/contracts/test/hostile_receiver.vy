# pragma version ~=0.4.3
"""
@title Hostile receiver (tests only)
@notice A contract account that contributes to, claims from and withdraws
        from a shared model, and misbehaves when it is paid:
          mode 0: accepts payments;
          mode 1: reverts on every payment;
          mode 2: re-enters `target` with `reentry_data` (sending
                  `reentry_value` wei) on every payment and records whether
                  the re-entry succeeded (it must not).
        `act2` makes two calls in one transaction (same block time).
"""

MAX_DATA: constant(uint256) = 4096

mode: public(uint256)
target: public(address)
reentry_data: public(Bytes[MAX_DATA])
reentry_value: public(uint256)
attempts: public(uint256)
successes: public(uint256)
received: public(uint256)
last_reentry_error: public(Bytes[256])


@external
def configure(mode: uint256, target: address, reentry_data: Bytes[MAX_DATA], reentry_value: uint256):
    """
    @notice Set the behaviour on receiving ether.
    """
    assert mode <= 2, "hostile: unknown mode"
    self.mode = mode
    self.target = target
    self.reentry_data = reentry_data
    self.reentry_value = reentry_value


@external
@payable
def act(target: address, data: Bytes[MAX_DATA], amount: uint256):
    """
    @notice Call `target` with `data` as this contract, sending `amount` wei
            (from this call's value or the contract's balance). Reverts with
            the callee's reason.
    """
    raw_call(target, data, value=amount)


@external
@payable
def act2(target: address, data1: Bytes[MAX_DATA], amount1: uint256, data2: Bytes[MAX_DATA], amount2: uint256):
    """
    @notice Two calls to `target` in one transaction.
    """
    raw_call(target, data1, value=amount1)
    raw_call(target, data2, value=amount2)


@external
@payable
def __default__():
    if self.mode == 1:
        raise "hostile: refusing payment"
    if self.mode == 2:
        self.attempts += 1
        ok: bool = False
        response: Bytes[256] = b""
        ok, response = raw_call(
            self.target, self.reentry_data, max_outsize=256, value=self.reentry_value, revert_on_failure=False
        )
        if ok:
            self.successes += 1
        self.last_reentry_error = response
    self.received += msg.value
