"""Typed replies from a tinyship (or MLPerf Tiny) firmware over a `Transport`.

Every command waits for `m-ready`; a timeout says which command and what was
awaited, shows the tail of what was received and names the device log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolchain.device import protocol as p
from toolchain.errors import DeviceTimeout


@dataclass
class InferReply:
    n: int
    warmup: int
    lap_us: list[int]  # the m-lap-us timestamps around the timed loop
    results: list[float] = field(default_factory=list)

    @property
    def elapsed_us(self) -> int:
        return self.lap_us[-1] - self.lap_us[0] if len(self.lap_us) >= 2 else 0


class DeviceClient:
    """Commands of docs/protocol.md as methods.

    Args:
        transport: a `Transport` (or anything with send/read_line/tail/url/log_path).
        timeout: seconds to wait for `m-ready` after a command.
        infer_timeout: seconds allowed per inference (warm-ups included) on top of `timeout`.
    """

    def __init__(self, transport, *, timeout: float = 5.0, infer_timeout: float = 10.0):
        self.transport = transport
        self.timeout = timeout
        self.infer_timeout = infer_timeout
        self.boot: p.Boot | None = None

    # -- plumbing -------------------------------------------------------------------
    def _timeout_error(self, awaited: str, waited: float) -> DeviceTimeout:
        tail = " | ".join(self.transport.tail()) or "nothing"
        log = getattr(self.transport, "log_path", None)
        return DeviceTimeout(
            f"device on {self.transport.url} did not answer within {waited:g} s: awaited {awaited}; "
            f"last received: {tail}",
            f"check that the firmware runs and speaks docs/protocol.md{f'; device log: {log}' if log else ''}")

    def _check(self, line: p.Line, during: str) -> None:
        if line.kind == "boot":
            raise p.DeviceResetError(f"the device reset during {during} (boot banner seen again: {line.text})",
                                     "check power, watchdog and stack size; the run was cut short")
        if line.kind == "error" and line.payload.startswith("HARDFAULT"):
            raise p.HardFaultError(f"the device hit a HardFault during {during}: {line.text}",
                                   "the firmware crashed: check stack/arena sizes, or report the pc/lr above")
        if line.kind == "garbage":
            raise p.ProtocolError(f"garbage from the device during {during}: {line.text[:80]!r}",
                                  "check the baud rate and that only tinyship firmware writes to this port")

    def wait_boot(self, timeout: float = 10.0) -> p.Boot:
        """Wait for the boot banner and the `m-ready` after it (noise before the banner is skipped)."""
        awaited = "the boot banner 'm-boot-[tinyship ...]'"
        while True:
            text = self.transport.read_line(timeout)
            if text is None:
                raise self._timeout_error(awaited, timeout)
            line = p.parse_line(text)
            if line.kind == "error" and line.payload.startswith("HARDFAULT"):
                self._check(line, "boot")
            if self.boot is None and line.kind == "boot":
                self.boot = p.parse_boot(line.payload)
                awaited = "'m-ready' after the boot banner"
            elif self.boot is not None and line.kind == "ready":
                return self.boot

    def greet(self, timeout: float = 1.0) -> p.Boot | None:
        """Take the boot banner a device prints when its port opens (host firmware, boards that
        reset on open), so that it is not mistaken for a reset later; None if it stays quiet."""
        if self.boot is not None:
            return self.boot
        try:
            return self.wait_boot(timeout)
        except DeviceTimeout:
            return None

    def command(self, cmd: str, timeout: float | None = None) -> list[p.Line]:
        """Send `cmd`, return the message lines up to `m-ready`; raise on `e-[...]`."""
        timeout = self.timeout if timeout is None else timeout
        self.transport.send(cmd)
        lines, error = [], None
        while True:
            text = self.transport.read_line(timeout)
            if text is None:
                raise self._timeout_error(f"'m-ready' after '{cmd[:40]}'", timeout)
            line = p.parse_line(text)
            self._check(line, f"'{cmd[:40]}'")
            if line.kind == "ready":
                break
            if line.kind == "error":
                error = error or line.payload
            elif line.key:
                lines.append(line)
        if error is not None:
            raise p.DeviceRefusedError(f"the device refused '{cmd[:40]}': {error}")
        return lines

    def _one(self, cmd: str, key: str, timeout: float | None = None) -> str:
        for line in self.command(cmd, timeout):
            if line.key == key:
                return line.payload
        raise p.ProtocolError(f"no 'm-{key}-' line in the reply to '{cmd}'",
                              "the firmware is older than this tinyship or not tinyship firmware")

    # -- commands ---------------------------------------------------------------------
    def name(self) -> str:
        return self._one("name", "name").strip("[]")

    def profile(self) -> dict:
        lines = {line.key: line.payload.strip("[]") for line in self.command("profile")}
        return {"profile": lines.get("profile", ""), "model": lines.get("model", "")}

    def info(self) -> dict:
        return p.parse_json(self._one("info", "info"), "info")

    def load_input(self, data: bytes) -> None:
        cmds = p.db_commands(bytes(data))
        self.command(cmds[0])
        done = False
        for cmd in cmds[1:]:
            done = any(line.key == "load-done" for line in self.command(cmd))
        if not done:
            raise p.ProtocolError(f"the device did not confirm the upload of {len(data)} bytes (no 'm-load-done')")

    def infer(self, n: int = 1, warmup: int = 0, timeout: float | None = None) -> InferReply:
        timeout = timeout or self.timeout + self.infer_timeout * (n + warmup)
        reply = InferReply(n, warmup, [])
        for line in self.command(f"infer {n} {warmup}", timeout):
            if line.key == "lap-us":
                reply.lap_us.append(_int(line.payload, "lap-us"))
            elif line.key == "results":
                reply.results = p.parse_list(line.payload, "results")
        return reply

    def results(self) -> list[float]:
        return p.parse_list(self._one("results", "results"), "results")

    def outputs(self) -> bytes:
        return p.parse_hex(self._one("outputs", "outputs"), "outputs")

    def layers(self) -> list[dict]:
        return p.parse_json(self._one("layers", "layers"), "layers")

    def mem(self) -> dict:
        return p.parse_json(self._one("mem", "mem"), "mem")

    def cycles(self) -> list[int]:
        return p.parse_list(self._one("cycles", "cycles"), "cycles", conv=int)

    def dump(self, layer: int, timeout: float | None = None) -> bytes:
        payload = self._one(f"dump {layer}", "dump", timeout or self.timeout + self.infer_timeout)
        index, _, data = payload.partition("-")
        if index != str(layer):
            raise p.ProtocolError(f"asked to dump layer {layer}, the device dumped {index!r}")
        return p.parse_hex(data, "dump")


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise p.ProtocolError(f"malformed {what} reply: {text[:40]!r}") from None
