"""The device protocol (docs/protocol.md) as pure functions over text lines.

Nothing here does I/O, so every rule can be tested with plain strings: a
`LineSplitter` turns received bytes into lines, `parse_line` classifies one
line, and the `parse_*` helpers decode reply payloads.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from toolchain.errors import DeviceError

MAX_COMMAND = 1024  # bytes per command, terminator included
# The longest line accepted before the model is known (boot banner, info): 4 MiB. A session
# raises it to what its model can legitimately produce (`line_limit`). Longer lines are an error.
MAX_LINE = 4 << 20
READY = "m-ready"
FAULT = "e-[HARDFAULT"


def line_limit(largest_tensor_bytes: int, output_values: int) -> int:
    """The longest line a firmware may send for a model: MAX_LINE, or more when the model needs it.
    A hex dump (`dump`, `outputs`) takes 2 characters per byte; `m-results-[...]` up to 24 per
    output value (the app's number buffer: 23 characters and the comma)."""
    return max(MAX_LINE, 2 * largest_tensor_bytes + 64, 24 * output_values + 64)


class ProtocolError(DeviceError):
    """The device sent something the protocol does not allow (garbage, bad payload)."""


class DeviceRefusedError(DeviceError):
    """The device answered a command with `e-[...]` (unknown command, bad argument)."""


class DeviceResetError(DeviceError):
    """The boot banner appeared again in the middle of a run."""


class HardFaultError(DeviceError):
    """The firmware reported a HardFault and halted."""


@dataclass(frozen=True)
class Line:
    """One received line. kind: ready | error | boot | message | garbage."""

    kind: str
    text: str
    key: str = ""  # for messages: "results", "lap-us", "outputs", ...
    payload: str = ""


@dataclass(frozen=True)
class Boot:
    board: str
    engine: str
    model: str
    crc32: int


_BOOT = re.compile(r"^m-boot-\[(.*)\]$")
# Known message keys, longest first: a hex payload may start with letters
# ("m-outputs-ab12"), so keys cannot be told from payloads by a generic pattern.
KEYS = sorted(["name", "profile", "model", "load-done", "buffer", "warmup-start", "warmup-done",
               "infer-start", "lap-us", "infer-done", "results", "outputs", "info", "layers", "mem",
               "cycles", "dump"], key=len, reverse=True)


def clip(text: str, limit: int = 120) -> str:
    """`text` cut to `limit` characters with the size of what was cut: device text in messages stays short."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit:,} more bytes)"


def parse_line(text: str) -> Line:
    """Classify one line (without its terminator).

    A fault report counts wherever it starts: the firmware may fault in the middle of
    printing a line, and its `e-[HARDFAULT` then follows that line's first half.
    """
    fault = text.find(FAULT)
    if fault > 0:
        text = text[fault:]
    if text == READY:
        return Line("ready", text)
    m = _BOOT.match(text)
    if m:
        return Line("boot", text, "boot", m.group(1))
    if text.startswith("e-["):
        return Line("error", text, "error", text[3:].rstrip("]"))
    if text.startswith("m-["):  # free text, e.g. m-[Expecting 490 bytes]
        return Line("message", text, "", text[2:])
    for key in KEYS:
        rest = text[2 + len(key):]
        if text.startswith(f"m-{key}") and (not rest or rest[0] == "-"):
            return Line("message", text, key, rest[1:])
    if text.startswith("m-"):  # a message this client does not know: tolerated, ignored
        return Line("message", text, "", text[2:])
    return Line("garbage", text)


class LineSplitter:
    """Reassembles lines from arbitrary chunks of bytes.

    Lines end with LF (a preceding CR is dropped); other non-printable bytes are
    discarded, as the firmware does on its side. A trailing partial line is kept
    until its terminator arrives; one longer than `max_line` bytes is a ProtocolError.
    """

    _DROP = bytes(b for b in range(256) if not 0x20 <= b < 0x7F and b != 0x0A)

    def __init__(self, max_line: int = MAX_LINE):
        self._buf = bytearray()
        self.max_line = max_line

    def feed(self, data: bytes) -> list[str]:
        *done, rest = bytes(data).translate(None, self._DROP).split(b"\n")
        lines = []
        for part in done:
            self._buf += part
            self._check()
            lines.append(self._buf.decode("ascii"))
            self._buf.clear()
        self._buf += rest
        self._check()
        return lines

    def _check(self) -> None:
        if len(self._buf) > self.max_line:
            head = self._buf[:40].decode("ascii")
            self._buf.clear()
            raise ProtocolError(f"the device sent a line longer than {self.max_line:,} bytes (starting {head!r}...)",
                                "check the baud rate and that only tinyship firmware writes to this port")

    @property
    def pending(self) -> str:
        return self._buf.decode("ascii")


def parse_boot(payload: str) -> Boot:
    """`tinyship board=host engine=aot model=kws crc32=0x1234abcd` -> Boot."""
    fields = dict(item.split("=", 1) for item in payload.split()[1:] if "=" in item)
    try:
        return Boot(fields["board"], fields["engine"], fields["model"], int(fields["crc32"], 16))
    except (KeyError, ValueError):
        raise ProtocolError(f"malformed boot banner: 'm-boot-[{payload}]'",
                            "the firmware does not follow docs/protocol.md: rebuild it with this tinyship") from None


def parse_list(payload: str, what: str, conv=float) -> list:
    """`[1.0,2.5]` -> [1.0, 2.5] (the `results` and `cycles` replies); nan and inf are malformed."""
    if not (payload.startswith("[") and payload.endswith("]")):
        raise ProtocolError(f"malformed {what} reply: {clip(payload, 80)!r}")
    body = payload[1:-1].strip()
    try:
        values = [conv(v) for v in body.split(",")] if body else []
    except ValueError:
        raise ProtocolError(f"malformed {what} reply: {clip(payload, 80)!r}") from None
    if not all(math.isfinite(v) for v in values if isinstance(v, float)):
        raise ProtocolError(f"malformed {what} reply: not finite: {clip(payload, 80)!r}")
    return values


def parse_hex(payload: str, what: str) -> bytes:
    try:
        return bytes.fromhex(payload)
    except ValueError:
        raise ProtocolError(f"malformed {what} reply: not hex: {clip(payload, 80)!r}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(payload: str, what: str):
    """JSON as RFC 8259 has it: NaN and Infinity are malformed, and so is nesting too deep to parse."""
    try:
        return json.loads(payload, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ProtocolError(f"malformed {what} reply: not JSON: {clip(payload, 80)!r}") from None


def encode_command(command: str) -> bytes:
    data = (command + "%").encode("ascii")
    if len(data) > MAX_COMMAND:
        raise ValueError(f"command of {len(data)} bytes exceeds the protocol limit of {MAX_COMMAND}")
    return data


def db_commands(data: bytes, chunk: int = (MAX_COMMAND - len("db %")) // 2) -> list[str]:
    """The commands that upload `data` into the device's input buffer."""
    cmds = [f"db load {len(data)}"]
    cmds += [f"db {data[i:i + chunk].hex()}" for i in range(0, len(data), chunk)]
    return cmds
