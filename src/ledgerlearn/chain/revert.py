"""Turn revert data into a message a person can read."""

from __future__ import annotations

from eth_abi import decode

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)
_PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x31: "pop from an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def decode_revert_reason(data: bytes | None) -> str | None:
    """Decode ``Error(string)``/``Panic(uint256)`` revert data; None when there is none.

    Vyper's ``assert`` without a message and its built-in checks (overflow,
    bounds) revert with empty data; that is reported as a plain revert.
    """
    if not data:
        return None
    data = bytes(data)
    try:
        if data[:4] == _ERROR_STRING:
            return decode(["string"], data[4:])[0]
        if data[:4] == _PANIC:
            code = decode(["uint256"], data[4:])[0]
            return f"panic: {_PANIC_CODES.get(code, hex(code))}"
    except Exception:  # malformed revert data: show it raw
        pass
    return f"custom error 0x{data.hex()}"
