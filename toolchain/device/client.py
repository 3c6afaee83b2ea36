"""Typed replies from a tinyship (or MLPerf Tiny) firmware over a `Transport`.

Every command waits for `m-ready` within a `Deadline` (docs/harness.md): the whole
reply, not each line, so a device that keeps printing cannot hold a command open.
A timeout says which command and what was awaited, shows the tail of what was
received and names the device log. Replies are checked here, once, against the
types and ranges of docs/protocol.md (`replies`), so callers get clean values or a
ProtocolError.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolchain.device import protocol as p
from toolchain.device import replies
from toolchain.device.deadline import Deadline
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
    """Commands of docs/protocol.md as methods, each reply checked for type and range.

    Args:
        transport: a `Transport` (or anything with send/read_line/tail/url/log_path/received).
        timeout: seconds for a command's whole reply, up to `m-ready`.
        infer_timeout: seconds allowed per inference (warm-ups included) on top of `timeout`.

    `session` (a `Deadline`, set by the caller) bounds all commands together.
    """

    def __init__(self, transport, *, timeout: float = 5.0, infer_timeout: float = 10.0):
        self.transport = transport
        self.timeout = timeout
        self.infer_timeout = infer_timeout
        self.session: Deadline | None = None
        self.boot: p.Boot | None = None
        self.max_reply = 2 * p.MAX_LINE  # bytes of one command's reply, all lines together

    def allow_lines(self, max_line: int) -> None:
        """Accept lines of up to `max_line` bytes (a model's `protocol.line_limit`), replies of twice that."""
        self.transport.allow_lines(max_line)
        self.max_reply = 2 * max_line

    # -- plumbing -------------------------------------------------------------------
    def deadline(self, seconds: float, what: str) -> Deadline:
        """A deadline of `seconds` for `what`, cut short by the session's."""
        return self.session.within(seconds, what) if self.session else Deadline(seconds, what)

    def _timeout_error(self, deadline: Deadline, awaited: str, answered: bool) -> DeviceTimeout:
        tail = " | ".join(self.transport.tail()) or "nothing"
        log = getattr(self.transport, "log_path", None)
        ran_out = deadline.binding()
        if ran_out is self.session:
            what = f"the session deadline ({ran_out.seconds:g} s, --deadline) ran out on {self.transport.url}"
        else:
            what = f"device on {self.transport.url} did not {'finish its reply' if answered else 'answer'} within {ran_out.seconds:g} s"
        return DeviceTimeout(f"{what}: awaited {awaited}; last received: {tail}",
                             f"check that the firmware runs and speaks docs/protocol.md{f'; device log: {log}' if log else ''}")

    def _read(self, deadline: Deadline, awaited: str, answered: bool = False) -> p.Line:
        """The next line before `deadline`, else DeviceTimeout naming what was awaited."""
        wait = deadline.remaining()
        text = self.transport.read_line(wait) if wait > 0 else None
        if text is None:
            raise self._timeout_error(deadline, awaited, answered)
        return p.parse_line(text)

    def _check(self, line: p.Line, during: str) -> None:
        if line.kind == "boot":
            raise p.DeviceResetError(f"the device reset during {during} (boot banner seen again: {p.clip(line.text)})",
                                     "check power, watchdog and stack size; the run was cut short")
        if line.kind == "error" and line.text.startswith(p.FAULT):
            raise p.HardFaultError(f"the device hit a HardFault during {during}: {p.clip(line.text)}",
                                   "the firmware crashed: check stack/arena sizes, or report the pc/lr above")
        if line.kind == "garbage":
            raise p.ProtocolError(f"garbage from the device during {during}: {p.clip(line.text, 80)!r}",
                                  "check the baud rate and that only tinyship firmware writes to this port")

    def wait_boot(self, timeout: float = 10.0) -> p.Boot:
        """Wait for the boot banner within `timeout` seconds (noise before it is skipped, however
        much of it comes). No `m-ready` follows it, so an MLPerf Tiny runner cannot take it for a
        whole reply."""
        deadline = self.deadline(timeout, "the boot banner")
        while True:
            line = self._read(deadline, "the boot banner 'm-boot-[tinyship ...]'")
            if line.kind == "error" and line.text.startswith(p.FAULT):
                self._check(line, "boot")
            if line.kind == "boot":
                self.boot = p.parse_boot(line.payload)
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

    def command(self, cmd: str, timeout: float | None = None, first_line: float | None = None) -> list[p.Line]:
        """Send `cmd`, return the message lines up to `m-ready`; raise on `e-[...]`.

        The whole reply must come within `timeout` (default: the client's) and be at most
        `max_reply` bytes; its first line within `first_line` seconds (default `timeout`).
        """
        short = p.clip(cmd, 40)
        deadline = self.deadline(self.timeout if timeout is None else timeout, f"the reply to '{short}'")
        first = deadline.within(first_line, f"the first line of the reply to '{short}'") if first_line else deadline
        awaited = f"'m-ready' after '{short}'"
        start = self.transport.received
        self.transport.send(cmd)
        lines, error = [], None
        line = self._read(first, awaited)
        while True:
            self._check(line, f"'{short}'")
            if line.kind == "ready":
                break
            if line.kind == "error":
                error = error or line.payload
            elif line.key:
                lines.append(line)
            if self.transport.received - start > self.max_reply:
                raise p.ProtocolError(f"the reply to '{short}' exceeded {self.max_reply:,} bytes without 'm-ready'; "
                                      f"last received: {' | '.join(self.transport.tail())}",
                                      "check that only tinyship firmware writes to this port")
            line = self._read(deadline, awaited, answered=True)
        if error is not None:
            raise p.DeviceRefusedError(f"the device refused '{short}': {p.clip(error)}")
        return lines

    def _one(self, cmd: str, key: str, timeout: float | None = None, first_line: float | None = None) -> str:
        for line in self.command(cmd, timeout, first_line):
            if line.key == key:
                return line.payload
        raise p.ProtocolError(f"no 'm-{key}-' line in the reply to '{cmd}'",
                              "the firmware is older than this tinyship or not tinyship firmware")

    # -- commands ---------------------------------------------------------------------
    def name(self) -> str:
        """The device name: `m-name-dut-[NAME]`, as the MLPerf Tiny reference firmware answers."""
        return p.clip(self._one("name", "name").removeprefix("dut-").strip("[]"))

    def profile(self) -> dict:
        lines = {line.key: p.clip(line.payload.strip("[]")) for line in self.command("profile")}
        return {"profile": lines.get("profile", ""), "model": lines.get("model", "")}

    def info(self) -> dict:
        return replies.info(p.parse_json(self._one("info", "info"), "info"))

    def load_input(self, data: bytes) -> None:
        cmds = p.db_commands(bytes(data))
        self.command(cmds[0])
        done = False
        for cmd in cmds[1:]:
            done = any(line.key == "load-done" for line in self.command(cmd))
        if not done:
            raise p.ProtocolError(f"the device did not confirm the upload of {len(data)} bytes (no 'm-load-done')")

    def infer_seconds(self, n: int, warmup: int) -> float:
        """The deadline of `infer n warmup`: `timeout` plus `infer_timeout` per inference."""
        return self.timeout + self.infer_timeout * (n + warmup)

    def infer(self, n: int = 1, warmup: int = 0, timeout: float | None = None) -> InferReply:
        """Run `warmup` + `n` inferences: `m-warmup-start` must come within `timeout` (a frozen
        device fails then), the whole reply within `infer_seconds`."""
        reply = InferReply(n, warmup, [])
        for line in self.command(f"infer {n} {warmup}", timeout or self.infer_seconds(n, warmup), self.timeout):
            if line.key == "lap-us":
                reply.lap_us.append(replies.count(_int(line.payload, "lap-us"), "lap-us"))
            elif line.key == "results":
                reply.results = p.parse_list(line.payload, "results")
        return reply

    def results(self) -> list[float]:
        return p.parse_list(self._one("results", "results"), "results")

    def outputs(self) -> bytes:
        return p.parse_hex(self._one("outputs", "outputs"), "outputs")

    def layers(self) -> list[dict]:
        return replies.layers(p.parse_json(self._one("layers", "layers"), "layers"))

    def mem(self) -> dict:
        return replies.mem(p.parse_json(self._one("mem", "mem"), "mem"))

    def cycles(self) -> list[int]:
        return [replies.count(c, "cycles") for c in p.parse_list(self._one("cycles", "cycles"), "cycles", conv=int)]

    def dump_seconds(self) -> float:
        """The deadline of `dump L`, which runs one inference before it answers."""
        return self.timeout + self.infer_timeout

    def dump(self, layer: int, timeout: float | None = None) -> bytes:
        seconds = timeout or self.dump_seconds()
        payload = self._one(f"dump {layer}", "dump", seconds, seconds)
        index, _, data = payload.partition("-")
        if index != str(layer):
            raise p.ProtocolError(f"asked to dump layer {layer}, the device dumped {p.clip(index, 20)!r}")
        return p.parse_hex(data, "dump")


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise p.ProtocolError(f"malformed {what} reply: {p.clip(text, 40)!r}") from None
