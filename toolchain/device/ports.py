"""`--port auto`: find a board's serial port by the catalog's USB VID:PID."""

from __future__ import annotations

from toolchain.errors import DeviceError


def find_port(boards) -> tuple[str, str]:
    """The first serial port whose USB id belongs to one of `boards`.

    Returns:
        (device path, a sentence saying which port and board were picked).
    """
    from serial.tools import list_ports

    wanted = {usb: b for b in boards for usb in b.serial.get("usb", [])}
    ports = list(list_ports.comports())
    for port in ports:
        if port.vid is None:
            continue
        board = wanted.get(f"{port.vid:04x}:{port.pid:04x}")
        if board:
            return port.device, f"--port auto picked {port.device} ({port.vid:04x}:{port.pid:04x}, {board.name})"
    seen = ", ".join(f"{p.device} ({p.vid:04x}:{p.pid:04x})" for p in ports if p.vid is not None) or "none"
    raise DeviceError(f"--port auto found no known board among the USB serial ports (seen: {seen})",
                      "plug the board in, or give --port URL explicitly")


def resolve_port(port: str | None, board=None) -> tuple[str, str | None]:
    """`port` unchanged, or the auto-detected one with a note; boards default to the whole catalog."""
    if not port:
        raise DeviceError("no port given", "use --port URL (e.g. /dev/ttyACM0, socket://127.0.0.1:4321) or --port auto")
    if port != "auto":
        return port, None
    from toolchain.boards import list_boards

    return find_port([board] if board else list_boards())
