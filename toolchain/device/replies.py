"""The types and ranges of the JSON replies (`info`, `layers`, `mem`) and counters, checked once.

A device is untrusted input: a reply that parses but has the wrong shape (`info` as a
list, the CRC as a string, `cpu_hz: inf`) is a ProtocolError here, so the session and
the report only ever see clean values. Unknown keys are dropped; strings are cut to
`TEXT` characters; a key that is absent or null stays absent.
"""

from __future__ import annotations

import math

from toolchain.device.protocol import ProtocolError, clip

TEXT = 200  # characters kept of a string from the device
MAX_ITEMS = 4096  # entries of a list from the device (layers, tensors, dims)
FIX = "the firmware does not follow docs/protocol.md: rebuild it with this tinyship"


def _bad(where: str, value, expected: str) -> ProtocolError:
    return ProtocolError(f"malformed {where} reply: {clip(repr(value), 40)}, expected {expected}", FIX)


def count(value, where: str) -> int:
    """A non-negative integer below 2**64 (bool is not a count)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise _bad(where, value, "an integer >= 0")
    return value


def text(value, where: str) -> str:
    if not isinstance(value, str):
        raise _bad(where, value, "a string")
    return clip(value, TEXT)


def number(value, where: str) -> float:
    """A finite number (int or float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(where, value, "a finite number")
    return value


def _crc(value, where: str) -> int:
    if count(value, where) >= 1 << 32:
        raise _bad(where, value, "a 32-bit CRC")
    return value


def _hz(value, where: str) -> int:
    if number(value, where) < 1:
        raise _bad(where, value, "a positive clock rate in Hz")
    return int(value)


def _flag(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(where, value, "true or false")
    return value


def _timer(value, where: str) -> str:
    if value not in ("dwt", "systick", "host"):
        raise _bad(where, value, "'dwt', 'systick' or 'host'")
    return value


def _list(value, where: str, item) -> list:
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise _bad(where, value, f"a list of at most {MAX_ITEMS} entries")
    return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _object(value, where: str, spec: dict, required: tuple = ()) -> dict:
    if not isinstance(value, dict):
        raise _bad(where, value, "a JSON object")
    for key in required:
        if value.get(key) is None:
            raise _bad(where, value, f"an object with {key!r}")
    return {key: check(value[key], f"{where}.{key}") for key, check in spec.items() if value.get(key) is not None}


def _tensor(value, where: str) -> dict:
    return _object(value, where, {"shape": lambda v, w: _list(v, w, count), "dtype": text, "scale": number,
                                  "zero_point": lambda v, w: int(number(v, w)), "bytes": count})


def _cycles(value, where: str) -> float:
    if number(value, where) < 0:
        raise _bad(where, value, "cycles >= 0")
    return value


_INFO = {"board": text, "engine": text, "model": text, "model_crc32": _crc, "cpu_hz": _hz, "timer": _timer,
         "emulated": _flag, "arena_size": count, "arena_used": count, "layers": count,
         "inputs": lambda v, w: _list(v, w, _tensor), "outputs": lambda v, w: _list(v, w, _tensor)}
_LAYER = {"i": count, "name": text, "cycles": _cycles}
_MEM = dict.fromkeys(("arena_size", "arena_used", "stack_size", "stack_used"), count)


def info(value) -> dict:
    return _object(value, "info", _INFO)


def layers(value) -> list[dict]:
    return _list(value, "layers", lambda v, w: _object(v, w, _LAYER, required=("cycles",)))


def mem(value) -> dict:
    return _object(value, "mem", _MEM)
