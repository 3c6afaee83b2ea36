"""Moving bytes to and from a device over any pyserial URL.

`/dev/ttyACM0`, `COM3`, `socket://127.0.0.1:4321` (QEMU, the host firmware),
`rfc2217://host:port`, `loop://` (tests). Received bytes become lines through
the protocol's `LineSplitter`; every line sent and received goes to the device
log so that a failed run can be read afterwards.
"""

from __future__ import annotations

import collections
import struct
import time
from pathlib import Path

import serial
from serial.urlhandler.protocol_socket import Serial as SocketSerial

from toolchain.device.protocol import LineSplitter, clip, encode_command
from toolchain.errors import DeviceError

READ_CHUNK = 64 << 10  # bytes per read: a flood is split into reads between which deadlines are checked
LOG_LINE = 4096  # characters of a received line kept in the device log


class PortGoneError(DeviceError):
    """The port could not be opened, or disappeared during the run."""


class Transport:
    """A line-oriented connection to a device.

    Args:
        url: pyserial URL or device path.
        baudrate: ignored by socket URLs.
        log_path: file that receives every line (`> ` sent, `< ` received).
        connect_timeout: keep retrying the open this long (an emulator may not listen yet).
    """

    def __init__(self, url: str, *, baudrate: int = 115200, log_path: str | Path | None = None,
                 connect_timeout: float = 5.0, clock=time.monotonic):
        self.url = url
        self.log_path = Path(log_path) if log_path else None
        self._clock = clock
        self._lines: collections.deque[str] = collections.deque()
        self._tail: collections.deque[str] = collections.deque(maxlen=6)
        self.received = 0  # bytes received so far
        self._splitter = LineSplitter()
        self._log = None
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "a", encoding="utf-8")
        self._port = self._open(baudrate, connect_timeout)

    def _open(self, baudrate: int, connect_timeout: float):
        deadline = self._clock() + connect_timeout
        while True:
            try:
                if self.url.startswith("socket://"):
                    return _open_socket(self.url)
                return serial.serial_for_url(self.url, baudrate=baudrate, timeout=0.05, write_timeout=5)
            except (serial.SerialException, OSError, ValueError) as e:
                if self._clock() >= deadline or isinstance(e, ValueError):
                    self.close()
                    raise PortGoneError(f"cannot open port {self.url}: {e}",
                                        "check the URL, that the board is plugged in and that no other program holds the port") from None
                time.sleep(0.05)

    def allow_lines(self, max_line: int) -> None:
        """Accept received lines of up to `max_line` bytes from now on (default protocol.MAX_LINE)."""
        self._splitter.max_line = max_line

    def send(self, command: str) -> None:
        self._record(f"> {command}")
        try:
            self._port.write(encode_command(command))
            self._port.flush()
        except (serial.SerialException, OSError) as e:
            raise PortGoneError(f"port {self.url} disappeared while sending {command!r}: {e}") from None

    def read_line(self, timeout: float) -> str | None:
        """The next complete line, or None when none arrives within `timeout` seconds."""
        deadline = self._clock() + timeout
        while not self._lines:
            if self._clock() >= deadline:
                return None
            try:
                waiting = self._port.in_waiting  # read() waits for its full size: ask for what is there
                data = self._port.read(min(waiting, READ_CHUNK) or 1)
            except (serial.SerialException, OSError) as e:
                raise PortGoneError(f"port {self.url} disappeared: {e}",
                                    f"the device or emulator went away; see the device log{self._log_hint()}") from None
            self.received += len(data)
            for line in self._splitter.feed(data):
                self._record(f"< {clip(line, LOG_LINE)}")
                self._tail.append(clip(line))
                self._lines.append(line)
        return self._lines.popleft()

    def tail(self) -> list[str]:
        """The last lines received (and a pending partial line), each cut to 120 characters, for error messages."""
        pending = self._splitter.pending
        return list(self._tail) + ([clip(pending) + " (partial)"] if pending else [])

    def _log_hint(self) -> str:
        return f" {self.log_path}" if self.log_path else ""

    def _record(self, text: str) -> None:
        if self._log:
            self._log.write(text + "\n")
            self._log.flush()

    def close(self) -> None:
        port, self._port = getattr(self, "_port", None), None
        if port is not None:
            try:
                port.close()
            except Exception:  # closing a port that already vanished
                pass
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()



class _KeepGreetingSocket(SocketSerial):
    """pyserial's socket:// port, minus the input flush it does right after connecting.

    QEMU (wait=on) and the host firmware greet as soon as the connection is accepted;
    pyserial's `open` would discard that boot banner (measured: lost on every host run).
    """

    _opened = False

    def open(self):
        super().open()
        self._opened = True

    def reset_input_buffer(self):
        if self._opened:
            super().reset_input_buffer()

    @property
    def in_waiting(self):
        """The bytes waiting, not pyserial's 0 or 1 (measured: 1-byte reads capped a flood at ~250 KB/s)."""
        try:
            import fcntl
            import termios

            return struct.unpack("i", fcntl.ioctl(self._socket, termios.FIONREAD, b"\0\0\0\0"))[0] or super().in_waiting
        except (ImportError, OSError):
            return super().in_waiting


def _open_socket(url: str):
    port = _KeepGreetingSocket(None, timeout=0.05, write_timeout=5)
    port.port = url
    port.open()
    return port
