"""A fake serial device on a pty, with a catalogue of faults: a MOCK, on purpose.

The faults below are those of a physical board (a log that never stops, a frozen
core, a wrong baud rate, a corrupt reply) and no physical board can exist on this
machine; the emulators and the host firmware cannot be made to misbehave this way.
So `FakeDevice` speaks docs/protocol.md itself, from a pty whose slave path is given
to `tinyship profile --port`, and answers with the real TFLM interpreter's outputs,
so that a fault-free run passes validation.

Like a board that resets when its port opens, it prints its boot banner when the
client opens the port (seen through the pty's packet mode: pyserial flushes its
input on open).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import random
import select
import struct
import termios
import threading
import tty
from pathlib import Path

import numpy as np

TIOCPKT_FLUSHREAD = 1
HARDFAULT = b"e-[HARDFAULT pc=0x0800abcd lr=0xfffffff9 cfsr=0x00000400]\r\n"
# fault -> what the device does instead of answering (after `after` commands)
FAULTS = {
    "none": "answers everything",
    "busy": "prints m-[still busy] forever",
    "flood": "prints protocol-looking lines as fast as it can, forever",
    "frozen": "stops answering",
    "garbage": "answers with random bytes",
    "huge-line": "sends `size` bytes without a newline",
    "hardfault-midline": "faults half way through a line (e-[HARDFAULT after a partial line)",
    "reset": "prints its boot banner again",
    "boot-noise": "prints log lines before its banner when the port opens, then behaves",
    "info-list": "m-info as a JSON list",
    "crc-string": "the CRC in m-info as a string",
    "cpu-hz-inf": "cpu_hz 1e999 (inf) in m-info",
    "info-nan": "NaN in m-info",
    "deep-json": "m-info nested 100,000 deep",
    "mem-list": "m-mem-[1,2]",
    "cycles-string": 'm-cycles-["12"]',
    "results-nan": "nan in m-results",
    "wrong-output": "answers everything, one output byte off by one (a kernel bug)",
    "layers-bad": "m-layers entries without cycles",
}
MALFORMED = {  # command -> fault -> the reply line
    "info": {"info-list": "m-info-[1,2]", "deep-json": "m-info-" + "[" * 100_000 + "]" * 100_000},
    "mem": {"mem-list": "m-mem-[1,2]"},
    "cycles": {"cycles-string": 'm-cycles-["12"]'},
    "layers": {"layers-bad": 'm-layers-[{"i":0,"name":"x"}]'},
}


class FakeDevice:
    """Use as a context manager; `port` is the path to give to `--port`.

    Args:
        model: the .tflite the fake firmware "runs" (its CRC, I/O sizes, TFLM outputs).
        fault: a key of FAULTS.
        after: commands answered normally before the fault starts.
        size: bytes of the huge line.
        seed: for garbage bytes.
    """

    def __init__(self, model, fault: str = "none", after: int = 0, size: int = 1 << 20, seed: int = 0):
        from toolchain.model import load_model

        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self.model = load_model(Path(model))
        self.fault, self.after, self.size = fault, after, size
        self.rng = random.Random(seed)
        self.commands = 0
        self.stream: bytes | None = None  # repeated forever once set
        self.frozen = False
        self._in, self._out = bytearray(), bytearray()
        self._buffer, self._expected = b"", sum(t.nbytes for t in self.model.main.input_tensors())
        self._n = 1  # timed inferences of the last infer
        self._outputs = b"\0" * sum(t.nbytes for t in self.model.main.output_tensors())

    # -- lifetime ----------------------------------------------------------------------
    def __enter__(self) -> "FakeDevice":
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        fcntl.ioctl(self.master, termios.TIOCPKT, struct.pack("i", 1))
        os.set_blocking(self.master, False)
        self.port = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self.master)
        os.close(self.slave)

    def _serve(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self.master], [self.master] if self._out else [], [], 0.005)
            if readable:
                try:
                    packet = os.read(self.master, 65536)
                except (BlockingIOError, OSError):
                    packet = b""
                if packet and packet[0] & TIOCPKT_FLUSHREAD:
                    self._opened()
                elif packet and packet[0] == 0:
                    self._received(packet[1:])
            if self.stream is not None and len(self._out) < 65536:
                self._out += self.stream
            if self._out:
                try:
                    del self._out[:os.write(self.master, self._out[:65536])]
                except (BlockingIOError, OSError):
                    pass

    # -- the protocol ----------------------------------------------------------------
    def _line(self, text: str | bytes) -> None:
        self._out += (text.encode() if isinstance(text, str) else text) + b"\r\n"

    def _banner(self) -> None:
        self._line(f"m-boot-[tinyship board=fake engine=tflm model={self.model.name} crc32=0x{self.model.crc32:08x}]")

    def _opened(self) -> None:
        self._in.clear()
        if self.fault == "boot-noise":
            for i in range(50):
                self._line(f"[I] {i * 7} ms: clock, sensors and radio up")
        self._banner()

    def _received(self, data: bytes) -> None:
        self._in += data
        while b"%" in self._in and not self.frozen:
            cmd, _, rest = bytes(self._in).partition(b"%")
            self._in = bytearray(rest)
            self.commands += 1
            if self.commands > self.after and self._misbehave(cmd.decode("ascii", "replace").strip().split(" ")):
                continue
            self._answer(cmd.decode("ascii", "replace").strip().split(" "))
            self._line("m-ready")

    def _misbehave(self, words: list[str]) -> bool:
        """Act out the fault; True when the command got no normal answer."""
        f = self.fault
        if f == "busy":
            self.stream = b"m-[still busy]\r\n"
        elif f == "flood":
            self.stream = b"m-warmup-done\r\nm-[log] tick\r\n" * 64
        elif f == "frozen":
            self.frozen = True
        elif f == "garbage":
            self._out += bytes(self.rng.randrange(256) for _ in range(200)) + b"\r\n"
        elif f == "huge-line":
            self._out += b"m-" + b"z" * self.size
            self.frozen = True
        elif f == "hardfault-midline":
            self._out += b"m-results-[0.125,0.2" + HARDFAULT
            self.frozen = True
        elif f == "reset":
            self._banner()
        elif MALFORMED.get(words[0], {}).get(f):
            self._line(MALFORMED[words[0]][f])
            self._line("m-ready")
        else:
            return False
        return True

    def _answer(self, words: list[str]) -> None:
        cmd, args = words[0], words[1:]
        if cmd == "name":
            self._line("m-name-dut-[tinyship-fake]")
        elif cmd == "info":
            self._line("m-info-" + self._info())
        elif cmd == "db" and args[:1] == ["load"]:
            self._buffer, self._expected = b"", int(args[1])
            self._line(f"m-[Expecting {self._expected} bytes]")
        elif cmd == "db":
            self._buffer += bytes.fromhex(args[0])
            if len(self._buffer) == self._expected:
                self._line("m-load-done")
        elif cmd == "infer":
            n, w = int(args[0]), int(args[1])
            self._n = n
            self._outputs = self._run()
            if self.fault == "wrong-output" and self.commands > self.after:
                self._outputs = bytes([(self._outputs[0] + 1) & 0xFF]) + self._outputs[1:]
            for text in (f"m-warmup-start-{w}", "m-warmup-done", f"m-infer-start-{n}", "m-lap-us-0",
                         f"m-lap-us-{100 * n}", "m-infer-done"):
                self._line(text)
            self._line("m-results-[" + ",".join("nan" if self.fault == "results-nan" and self.commands > self.after
                                                else "0.500000" for _ in range(2)) + "]")
        elif cmd == "cycles":
            self._line("m-cycles-[" + ",".join(["100000"] * self._n) + "]")
        elif cmd == "outputs":
            self._line("m-outputs-" + self._outputs.hex())
        elif cmd == "layers":
            self._line("m-layers-" + json.dumps([{"i": i, "name": f"op{i}", "cycles": 1000}
                                                 for i in range(len(self.model.main.operators))]))
        elif cmd == "mem":
            self._line('m-mem-{"arena_size":4096,"arena_used":2048,"stack_size":2048,"stack_used":512}')
        else:
            self._line(f"e-[unknown command {cmd}]")

    def _info(self) -> str:
        tensors = lambda ts: [{"shape": list(t.shape), "dtype": str(t.dtype), "bytes": t.nbytes} for t in ts]  # noqa: E731
        info = {"board": "fake", "engine": "tflm", "model": self.model.name, "model_crc32": self.model.crc32,
                "cpu_hz": 1_000_000_000, "timer": "host", "emulated": False, "arena_size": 4096, "arena_used": 2048,
                "layers": len(self.model.main.operators), "inputs": tensors(self.model.main.input_tensors()),
                "outputs": tensors(self.model.main.output_tensors())}
        if self.commands > self.after:
            if self.fault == "crc-string":
                info["model_crc32"] = f"0x{self.model.crc32:08x}"
            elif self.fault == "cpu-hz-inf":
                return json.dumps(info).replace('"cpu_hz": 1000000000', '"cpu_hz": 1e999')
            elif self.fault == "info-nan":
                info["arena_used"] = float("nan")
        return json.dumps(info)

    def _run(self) -> bytes:
        """The outputs TFLM computes for the loaded input: what a correct firmware returns."""
        from toolchain.reference import tflm_invoke

        inputs, offset = [], 0
        for t in self.model.main.input_tensors():
            inputs.append(np.frombuffer(self._buffer[offset:offset + t.nbytes], dtype=t.dtype).reshape(t.shape))
            offset += t.nbytes
        return b"".join(np.ascontiguousarray(o).tobytes() for o in tflm_invoke(self.model, inputs))
