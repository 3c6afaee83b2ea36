"""The protocol parser and the typed client, fed with plain strings (no device needed)."""

import pytest

from toolchain.device import protocol as p
from toolchain.device.client import DeviceClient
from toolchain.errors import DeviceError, DeviceTimeout


def test_parse_line_kinds():
    assert p.parse_line("m-ready").kind == "ready"
    boot = p.parse_line("m-boot-[tinyship board=host engine=aot model=kws crc32=0x0000abcd]")
    assert boot.kind == "boot"
    assert p.parse_boot(boot.payload) == p.Boot("host", "aot", "kws", 0xABCD)
    err = p.parse_line("e-[HARDFAULT pc=0x1234 lr=0x5678 cfsr=0x00000400]")
    assert (err.kind, err.payload) == ("error", "HARDFAULT pc=0x1234 lr=0x5678 cfsr=0x00000400")
    assert p.parse_line("#$%garbage").kind == "garbage"


@pytest.mark.parametrize("text,key,payload", [
    ("m-outputs-abcdef", "outputs", "abcdef"),  # hex payload made of letters only
    ("m-buffer-ff00", "buffer", "ff00"),
    ("m-lap-us-123456", "lap-us", "123456"),
    ("m-warmup-start-3", "warmup-start", "3"),
    ("m-warmup-done", "warmup-done", ""),
    ("m-load-done", "load-done", ""),
    ("m-dump-4-0a0b", "dump", "4-0a0b"),
    ("m-[Expecting 490 bytes]", "", "[Expecting 490 bytes]"),
    ('m-info-{"board": "host"}', "info", '{"board": "host"}'),
    ("m-results-[0.5,0.25]", "results", "[0.5,0.25]"),
])
def test_parse_message_keys(text, key, payload):
    line = p.parse_line(text)
    assert (line.kind, line.key, line.payload) == ("message", key, payload)


def test_line_splitter_partial_lines_and_noise():
    s = p.LineSplitter()
    assert s.feed(b"m-rea") == []
    assert s.pending == "m-rea"
    assert s.feed(b"dy\r\nm-name-[x\x00\x07]\r\npart") == ["m-ready", "m-name-[x]"]
    assert s.pending == "part"


def test_parse_helpers_reject_malformed_payloads():
    assert p.parse_list("[1,2,3]", "cycles", int) == [1, 2, 3]
    assert p.parse_list("[]", "results") == []
    for bad in ("1,2", "[1,x]"):
        with pytest.raises(p.ProtocolError, match="malformed results"):
            p.parse_list(bad, "results")
    with pytest.raises(p.ProtocolError, match="not hex"):
        p.parse_hex("zz", "outputs")
    with pytest.raises(p.ProtocolError, match="malformed boot banner"):
        p.parse_boot("tinyship board=host")


def test_db_commands_respect_the_command_limit():
    data = bytes(range(256)) * 8
    cmds = p.db_commands(data)
    assert cmds[0] == "db load 2048"
    assert b"".join(bytes.fromhex(c[3:]) for c in cmds[1:]) == data
    assert all(len(p.encode_command(c)) <= p.MAX_COMMAND for c in cmds)
    with pytest.raises(ValueError):
        p.encode_command("db " + "00" * 600)


class ScriptedTransport:
    """Replies to each command with canned lines: a stand-in for a serial port, no timing."""

    url = "loop://scripted"
    log_path = None

    def __init__(self, replies, banner=(), forever=None):
        self.replies, self.sent, self.queue = replies, [], list(banner)
        self.forever, self.received = forever, 0  # forever: a line repeated once the queue is empty

    def send(self, command):
        self.sent.append(command)
        reply = self.replies.get(command.split(" ")[0], [])
        self.queue.extend(reply(command) if callable(reply) else reply)

    def read_line(self, timeout):
        line = self.queue.pop(0) if self.queue else self.forever
        self.received += len(line or "") + 2
        return line

    def tail(self):
        return ["m-last", "m-part (partial)"]


def test_client_typed_replies():
    t = ScriptedTransport({
        "name": ["m-name-dut-[tinyship-host]", "m-ready"],
        "info": ['m-info-{"board":"host","model_crc32":7}', "m-ready"],
        "infer": ["m-warmup-start-1", "m-warmup-done", "m-infer-start-2", "m-lap-us-100", "m-lap-us-350",
                  "m-infer-done", "m-results-[0.500000,-1.000000]", "m-ready"],
        "outputs": ["m-outputs-7f80", "m-ready"],
        "cycles": ["m-cycles-[10,12]", "m-ready"],
        "layers": ['m-layers-[{"i":0,"name":"FC","cycles":5}]', "m-ready"],
        "mem": ['m-mem-{"arena_size":10,"arena_used":8,"stack_size":4,"stack_used":2}', "m-ready"],
        "dump": ["m-dump-3-0102", "m-ready"],
        "db": lambda cmd: (["m-[Expecting 3 bytes]"] if "load" in cmd else ["m-load-done"]) + ["m-ready"],
    }, banner=["boot noise", "m-boot-[tinyship board=host engine=aot model=m crc32=0x00000007]"])
    c = DeviceClient(t)
    assert c.wait_boot().crc32 == 7
    assert c.name() == "tinyship-host"
    assert c.info()["model_crc32"] == 7
    c.load_input(b"\x01\x02\x03")
    assert t.sent[-2:] == ["db load 3", "db 010203"]
    r = c.infer(2, 1)
    assert (r.elapsed_us, r.results) == (250, [0.5, -1.0])
    assert c.outputs() == b"\x7f\x80"
    assert c.cycles() == [10, 12]
    assert c.layers()[0]["cycles"] == 5
    assert c.mem()["stack_used"] == 2
    assert c.dump(3) == b"\x01\x02"


@pytest.mark.parametrize("reply,error,match", [
    ([], DeviceTimeout, r"awaited 'm-ready' after 'name'; last received: m-last \| m-part \(partial\)"),
    (["m-boot-[tinyship board=host engine=aot model=m crc32=0x1]"], p.DeviceResetError, "reset during 'name'"),
    (["e-[HARDFAULT pc=0x1]"], p.HardFaultError, "HardFault during 'name'"),
    (["\x01garbage"], p.ProtocolError, "garbage from the device"),
    (["e-[unknown command]", "m-ready"], DeviceError, "refused 'name': unknown command"),
    (["m-ready"], p.ProtocolError, "no 'm-name-' line"),
])
def test_client_errors_say_what_happened(reply, error, match):
    with pytest.raises(error, match=match) as e:
        DeviceClient(ScriptedTransport({"name": reply})).name()
    assert e.value.exit_code == 4


def test_transport_over_a_pyserial_url(tmp_path):
    from toolchain.device.transport import PortGoneError, Transport

    # loop:// echoes what is sent: one complete line, then a partial one
    with Transport("loop://", log_path=tmp_path / "device.log") as t:
        t.send("m-ready\r\nm-na")
        assert t.read_line(1.0) == "m-ready"
        assert t.read_line(0.05) is None
        assert t.tail() == ["m-ready", "m-na% (partial)"]
    assert (tmp_path / "device.log").read_text().splitlines() == ["> m-ready", "m-na", "< m-ready"]
    with pytest.raises(PortGoneError, match="cannot open port /dev/tinyship-no-such-port") as e:
        Transport("/dev/tinyship-no-such-port", connect_timeout=0)
    assert e.value.exit_code == 4


def test_a_device_that_keeps_printing_is_cut_by_the_command_deadline():
    """Lines arrive all the time, so a per-line timeout would never fire: the reply's deadline does."""
    import time

    client = DeviceClient(ScriptedTransport({}, forever="m-[still busy]"), timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeout, match=r"did not finish its reply within 0.3 s: awaited 'm-ready' after 'info'"):
        client.info()
    assert time.monotonic() - t0 < 1.0
    noisy = DeviceClient(ScriptedTransport({}, forever="booting, log line"))
    with pytest.raises(DeviceTimeout, match=r"did not answer within 0.2 s: awaited the boot banner"):
        noisy.wait_boot(0.2)


def test_the_session_deadline_bounds_all_commands():
    from toolchain.device.deadline import Deadline

    client = DeviceClient(ScriptedTransport({}, forever="m-[still busy]"), timeout=30)
    client.session = Deadline(0.2, "the session")
    with pytest.raises(DeviceTimeout, match=r"the session deadline \(0.2 s, --deadline\) ran out"):
        client.name()


def test_a_frozen_device_fails_infer_after_the_timeout_not_the_inference_budget():
    import time

    client = DeviceClient(ScriptedTransport({}), timeout=0.2, infer_timeout=100)
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeout, match=r"did not answer within 0.2 s: awaited 'm-ready' after 'infer 10 1'"):
        client.infer(10, 1)
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("cmd,reply,match", [
    ("info", "m-info-[1,2]", r"malformed info reply: \[1, 2\], expected a JSON object"),
    ("info", 'm-info-{"model_crc32":"0x1234"}', r"info.model_crc32 reply: '0x1234', expected an integer"),
    ("info", 'm-info-{"cpu_hz":Infinity}', "not JSON"),
    ("info", 'm-info-{"cpu_hz":1e999}', r"info.cpu_hz reply: inf, expected a finite number"),
    ("info", 'm-info-{"cpu_hz":NaN}', "not JSON"),
    ("info", 'm-info-{"inputs":[{"bytes":-1}]}', r"info.inputs\[0\].bytes reply: -1"),
    ("info", "m-info-" + "[" * 100_000 + "]" * 100_000, "not JSON"),
    ("mem", "m-mem-[1,2]", "malformed mem reply"),
    ("mem", 'm-mem-{"stack_used":true}', r"mem.stack_used reply: True"),
    ("cycles", 'm-cycles-["12"]', "malformed cycles reply"),
    ("cycles", "m-cycles-[-5]", r"malformed cycles reply: -5"),
    ("layers", 'm-layers-[{"i":0,"name":"x"}]', "expected an object with 'cycles'"),
    ("layers", 'm-layers-[{"i":0,"cycles":"many"}]', r"layers\[0\].cycles reply: 'many'"),
    ("results", "m-results-[nan,1]", "not finite"),
])
def test_malformed_but_parseable_replies_are_protocol_errors(cmd, reply, match):
    client = DeviceClient(ScriptedTransport({cmd: [reply, "m-ready"]}))
    with pytest.raises(p.ProtocolError, match=match) as e:
        getattr(client, cmd)()
    assert e.value.exit_code == 4 and len(str(e.value)) < 300


def test_replies_keep_only_known_keys_and_clip_strings():
    client = DeviceClient(ScriptedTransport({"info": ['m-info-{"board":"' + "b" * 5000 + '","extra":1,"cpu_hz":8e7}',
                                                      "m-ready"]}))
    info = client.info()
    assert set(info) == {"board", "cpu_hz"} and info["cpu_hz"] == 80_000_000 and len(info["board"]) < 300


def test_a_fault_in_the_middle_of_a_line_is_a_hardfault():
    line = p.parse_line("m-results-[0.1,0.2e-[HARDFAULT pc=0x1 lr=0x2 cfsr=0x400]")
    assert (line.kind, line.text) == ("error", "e-[HARDFAULT pc=0x1 lr=0x2 cfsr=0x400]")
    client = DeviceClient(ScriptedTransport({"infer": ["m-warmup-start-0", "m-lap-us-1e-[HARDFAULT pc=0x8]"]}))
    with pytest.raises(p.HardFaultError, match=r"HardFault during 'infer 1 0': e-\[HARDFAULT pc=0x8\]"):
        client.infer()


def test_line_length_is_capped_and_tails_are_short():
    s = p.LineSplitter(max_line=1000)
    assert s.feed(b"a" * 600) == []
    with pytest.raises(p.ProtocolError, match="a line longer than 1,000 bytes"):
        s.feed(b"a" * 600)
    assert s.pending == ""
    assert p.clip("x" * 1000) == "x" * 120 + "... (880 more bytes)"


def test_transport_flood_without_newline_is_cut_fast(tmp_path):
    """16 MB without a newline from a socket: a ProtocolError after MAX_LINE bytes, a short
    message, a short log, in well under the time the old byte-by-byte splitter took (30 s)."""
    import contextlib
    import socket
    import threading
    import time

    from toolchain.device.transport import Transport

    server = socket.create_server(("127.0.0.1", 0))

    def flood():
        conn, _ = server.accept()
        with conn, server, contextlib.suppress(OSError):  # the client hangs up once it has had enough
            conn.sendall(b"m-" + b"z" * (16 << 20))

    threading.Thread(target=flood, daemon=True).start()
    with Transport(f"socket://127.0.0.1:{server.getsockname()[1]}", log_path=tmp_path / "device.log") as t:
        t0 = time.monotonic()
        with pytest.raises(p.ProtocolError, match="longer than 4,194,304 bytes") as e:
            while t.read_line(5.0) is not None:
                pass
        elapsed = time.monotonic() - t0
        assert len(str(e.value)) < 300 and len(" | ".join(t.tail())) < 300
    assert elapsed < 5.0
    assert (tmp_path / "device.log").stat().st_size < 10_000
