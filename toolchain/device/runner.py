"""Processes that sit behind a serial URL: QEMU (see `emulator`) or the native `host` firmware.

A runner starts the process in its own process group (so Ctrl-C in the terminal
does not reach it and stopping it kills all its children), registers an atexit
hook, connects a `DeviceClient` to `socket://127.0.0.1:PORT` and waits for the
boot banner. Per run it keeps, in `run_dir`: the exact command line (`cmdline.txt`),
the process's stderr (`stderr.txt`) and the device log (`device.log`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from toolchain import process_group
from toolchain.device.client import DeviceClient
from toolchain.device.transport import PortGoneError, Transport
from toolchain.errors import DeviceError

_LIVE: set["ProcessRunner"] = set()


@atexit.register
def _stop_all() -> None:
    for runner in list(_LIVE):
        runner.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcessRunner:
    """Base class: subclasses give `what` and `command(port)`.

    Use as a context manager; `client` is connected and past the boot banner inside it.
    """

    what = "process"
    expect_banner = True  # False: check the device with `name` (the banner may be gone before we connect)

    def __init__(self, *, run_dir: str | Path | None = None, env: dict | None = None,
                 boot_timeout: float = 10.0, timeout: float = 5.0, infer_timeout: float = 10.0):
        self.run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="tinyship-run-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.boot_timeout = boot_timeout
        self.timeout, self.infer_timeout = timeout, infer_timeout
        self.proc: subprocess.Popen | None = None
        self.transport: Transport | None = None
        self.client: DeviceClient | None = None
        self.url = ""
        self.cmd: list[str] = []

    @property
    def stderr_path(self) -> Path:
        return self.run_dir / "stderr.txt"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "device.log"

    def command(self, port: int) -> list[str]:
        raise NotImplementedError

    def start(self) -> DeviceClient:
        """Start the process, connect and wait for the boot banner (once: a running runner
        returns its client, so `with runner:` followed by `runner.start()` starts one process)."""
        if self.client is not None and self.proc is not None and self.proc.poll() is None:
            return self.client
        port = free_port()
        self.cmd = self.command(port)
        self.url = f"socket://127.0.0.1:{port}"
        (self.run_dir / "cmdline.txt").write_text(shlex.join(self.cmd) + "\n")
        env = {**os.environ, **self.env} if self.env else None
        try:
            with open(self.stderr_path, "wb") as err:
                self.proc = process_group.popen(self.cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env)
        except OSError as e:
            raise DeviceError(f"cannot start the {self.what}: {e}", f"command: {shlex.join(self.cmd)}") from None
        _LIVE.add(self)
        try:
            self.transport = self._connect()
            self.client = DeviceClient(self.transport, timeout=self.timeout, infer_timeout=self.infer_timeout)
            if self.expect_banner:
                self.client.wait_boot(self.boot_timeout)
            else:
                self.client.name()
        except BaseException:
            self.stop()
            raise
        return self.client

    def _connect(self) -> Transport:
        deadline = time.monotonic() + self.boot_timeout
        while True:
            self._check_alive("while starting")
            try:
                return Transport(self.url, log_path=self.log_path, connect_timeout=0.1)
            except PortGoneError:
                if time.monotonic() > deadline:
                    raise DeviceError(f"the {self.what} did not open {self.url} within {self.boot_timeout:g} s",
                                      f"see {self.stderr_path}") from None

    def _check_alive(self, when: str) -> None:
        note = self.exit_note()
        if note:
            raise DeviceError(f"{note} ({when})", f"command line in {self.run_dir / 'cmdline.txt'}")

    def exit_note(self) -> str | None:
        """'the X exited with code N: <stderr>' when the process has ended, else None."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return f"the {self.what} exited with code {self.proc.returncode}: {self.stderr_tail()}"

    def stderr_tail(self, lines: int = 5) -> str:
        with contextlib.suppress(OSError):
            text = self.stderr_path.read_text(errors="replace").strip().splitlines()
            return " | ".join(text[-lines:]) or "(no stderr)"
        return "(no stderr)"

    def stop(self) -> None:
        """Close the connection and end the process group (SIGTERM, then SIGKILL). Idempotent."""
        _LIVE.discard(self)
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        proc, self.proc = self.proc, None
        if proc is not None:
            process_group.end(proc)

    def __enter__(self) -> "ProcessRunner":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class HostRunner(ProcessRunner):
    """The `host` board's native firmware binary, serving its protocol on a TCP port.

    `fault`/`fault_after` set TINYSHIP_FAULT / TINYSHIP_FAULT_AFTER (fault-injection tests).
    """

    what = "host firmware"

    def __init__(self, exe: str | Path, *, fault: str | None = None, fault_after: int | None = None, **kw):
        env = dict(kw.pop("env", None) or {})
        if fault:
            env["TINYSHIP_FAULT"] = fault
        if fault_after is not None:
            env["TINYSHIP_FAULT_AFTER"] = str(fault_after)
        super().__init__(env=env or None, **kw)
        self.exe = Path(exe)
        if not self.exe.is_file():
            raise DeviceError(f"no host firmware binary at {self.exe}", "build the project first: tinyship build DIR")

    def command(self, port: int) -> list[str]:
        return [str(self.exe.resolve()), "--serial", f"tcp:{port}"]
