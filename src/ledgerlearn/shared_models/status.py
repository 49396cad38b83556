"""Contribution status and the units people read (ETH amounts, durations).

:func:`contribution_status` is a pure function of what the client learnt from
events and views (claims, remaining deposit, the current model's opinion, the
time), so it can be tested without a chain. Money stays integer wei; ETH
strings exist only for display and for parsing what a person typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import Enum

from ledgerlearn.errors import ValidationError

WEI_PER_ETH = 10**18
_UNITS = {"wei": 1, "gwei": 10**9, "szabo": 10**12, "finney": 10**15, "eth": WEI_PER_ETH, "ether": WEI_PER_ETH}
_AMOUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)\s*([smhdw]?)")


class Status(str, Enum):
    """Where a contribution stands, for its author."""

    WAITING = "waiting"  # refund_wait not over yet
    REFUNDABLE = "refundable"  # the model agrees: the author can refund now
    REFUNDED = "refunded"  # the author refunded it
    DISAGREES = "model disagrees"  # the model disagrees: others may report it
    TAKEN = "taken"  # others took what it held


@dataclass(frozen=True)
class StatusInfo:
    status: Status
    text: str  # e.g. "wait 3h to refund", "refund 0.05 ETH"
    claimable: int  # wei the author could refund now (0 otherwise)
    wait_s: int = 0  # seconds until a refund is possible


def contribution_status(
    *,
    now: int,
    added_time: int,
    refund_wait: int,
    remaining: int,
    claims: int,
    refunded: bool,
    model_agrees: bool | None,
    incentive: str = "drt",
) -> StatusInfo:
    """Status of a contribution for its author.

    ``model_agrees`` is whether the current model predicts the contribution's
    label (None when not evaluated: only needed once the wait is over).
    """
    points = incentive == "points"
    if refunded:
        return StatusInfo(Status.REFUNDED, "refunded", 0)
    if claims > 0 and (points or remaining == 0):
        return StatusInfo(Status.TAKEN, "taken", 0)
    ready_at = added_time + refund_wait
    if now < ready_at:
        wait = ready_at - now
        return StatusInfo(Status.WAITING, f"wait {format_duration(wait)} to refund", 0, wait)
    if model_agrees is None:
        raise ValidationError("model_agrees: needed once the refund wait is over")
    if model_agrees:
        text = "refund (+1 point)" if points else f"refund {format_eth(remaining)}"
        return StatusInfo(Status.REFUNDABLE, text, 0 if points else remaining)
    return StatusInfo(Status.DISAGREES, "model disagrees", 0)


def report_reward(*, initial: int, remaining: int, good_reporter: int, total_good: int) -> int:
    """What a verified reporter takes before ``any_claim_wait`` (the spec's formula).

    ``initial * good(reporter) // total_good``, capped at what remains; when that
    is 0 or more than remains, the reporter takes all that remains.
    """
    reward = initial * good_reporter // total_good if total_good > 0 else 0
    if reward == 0 or reward > remaining:
        reward = remaining
    return reward


# ---------------------------------------------------------------- formatting
def format_eth(wei: int, *, decimals: int = 6) -> str:
    """``50000000000000000`` -> ``"0.05 ETH"`` (for display only)."""
    wei = int(wei)
    if wei == 0:
        return "0 ETH"
    if abs(wei) < 10 ** (18 - decimals):
        return f"{wei:,} wei" if abs(wei) < 10**6 else f"{format_decimal(Decimal(wei) / 10**9, 3)} gwei"
    return f"{format_decimal(Decimal(wei) / WEI_PER_ETH, decimals)} ETH"


def format_decimal(value: Decimal, decimals: int) -> str:
    q = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    s = format(q, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def parse_amount(text: str | int, *, what: str = "amount") -> int:
    """Wei from ``"0.05eth"``, ``"0.05 ETH"``, ``"100 gwei"``, ``"1e15"`` (wei) or an int."""
    if isinstance(text, bool):
        raise ValidationError(f"{what}: expected an amount, got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValidationError(f"{what}: {text} is negative")
        return text
    m = _AMOUNT.match(str(text))
    if not m:
        raise ValidationError(f"{what}: {text!r} is not an amount (e.g. 0.05eth, 100gwei, 1000000 [wei])")
    number, unit = m.group(1), (m.group(2) or "wei").lower()
    if unit not in _UNITS:
        raise ValidationError(f"{what}: unknown unit {m.group(2)!r} in {text!r} (use wei, gwei or eth)")
    try:
        value = Decimal(number) * _UNITS[unit]
    except InvalidOperation:
        raise ValidationError(f"{what}: {text!r} is not an amount") from None
    if value != value.to_integral_value():
        raise ValidationError(f"{what}: {text!r} is not a whole number of wei")
    return int(value)


def format_duration(seconds: int) -> str:
    """``10800`` -> ``"3h"``, ``5400`` -> ``"1h 30m"``, ``90061`` -> ``"1d 1h"`` (two units at most)."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    sizes = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    top = next(i for i, (_, size) in enumerate(sizes) if s >= size)
    res = sizes[top + 1][1]
    s = -(-s // res) * res  # round up at the last shown unit: "wait" never promises too early
    top = next(i for i, (_, size) in enumerate(sizes) if s >= size)
    hi, lo = sizes[top], sizes[top + 1]
    n_hi, rest = divmod(s, hi[1])
    n_lo = rest // lo[1]
    return f"{n_hi}{hi[0]} {n_lo}{lo[0]}" if n_lo else f"{n_hi}{hi[0]}"


def parse_duration(text: str | int, *, what: str = "duration") -> int:
    """Seconds from ``"3h"``, ``"1d12h"``, ``"90"`` (seconds), ``"2w"`` or an int."""
    if isinstance(text, bool):
        raise ValidationError(f"{what}: expected a duration, got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValidationError(f"{what}: {text} is negative")
        return text
    s = str(text).strip().lower().replace(" ", "")
    if not s:
        raise ValidationError(f"{what}: empty duration")
    pos, total = 0, 0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _DURATION_UNITS[m.group(2) or "s"]
        pos = m.end()
    if pos != len(s):
        raise ValidationError(f"{what}: {text!r} is not a duration (e.g. 90, 45m, 3h, 1d12h)")
    return total
