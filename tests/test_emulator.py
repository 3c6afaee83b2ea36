"""QEMU and host-firmware runners on real firmware: boot, talk, faults, hangs, clean shutdown."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolchain.boards import load_board
from toolchain.device import protocol
from toolchain.device.emulator import QemuRunner, emulate, runner_for
from toolchain.device.renode import generate_renode
from toolchain.device.runner import HostRunner
from toolchain.errors import DeviceTimeout, InputError

pytestmark = pytest.mark.slow
TINYSHIP = [sys.executable, "-m", "toolchain"]


@pytest.fixture(scope="module")
def qemu_elf(built_firmware, kws):
    return built_firmware(kws, "qemu-cortex-m4")[1].elf


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_qemu_boots_answers_and_stops_cleanly(qemu_elf, tmp_path):
    runner = QemuRunner(qemu_elf, load_board("qemu-cortex-m4"), run_dir=tmp_path)
    with runner:
        pid = runner.proc.pid
        assert runner.client.boot.board == "qemu-cortex-m4"
        assert runner.client.name() == "tinyship-qemu-cortex-m4"
        info = runner.client.info()
        assert info["emulated"] is True and info["timer"] == "systick"
    assert not _alive(pid)
    cmdline = (tmp_path / "cmdline.txt").read_text()
    assert "-icount shift=0" in cmdline and "-M mps2-an386" in cmdline and "-monitor none" in cmdline
    assert "< m-name-dut-[tinyship-qemu-cortex-m4]" in (tmp_path / "device.log").read_text()
    assert (tmp_path / "stderr.txt").exists()


def test_emulated_cycles_are_deterministic(qemu_elf, tmp_path):
    with QemuRunner(qemu_elf, load_board("qemu-cortex-m4"), run_dir=tmp_path) as runner:
        runner.client.infer(3, 1)
        cycles = runner.client.cycles()
    assert len(cycles) == 3 and max(cycles) - min(cycles) <= 0.001 * min(cycles)


def test_hardfault_is_reported(qemu_elf, tmp_path):
    # The Cortex-M4F image on a Cortex-M3 machine: its first FPU instruction is undefined there,
    # so the firmware's own HardFault handler reports it (a real fault, not a simulated line).
    board = load_board("qemu-cortex-m4")
    m3 = dataclasses.replace(board, emulator={**board.emulator,
                                              "qemu": {**board.qemu, "machine": "mps2-an385", "cpu": "cortex-m3"}})
    with pytest.raises(protocol.HardFaultError, match=r"HardFault during boot: e-\[HARDFAULT pc=0x") as e:
        QemuRunner(qemu_elf, m3, run_dir=tmp_path).start()
    assert e.value.exit_code == 4


def test_hang_times_out_with_context(qemu_elf, kws, tmp_path):
    # 1000 inferences of ~39 M instructions take minutes; 2 s is not enough: a real "no reply in time".
    with pytest.raises(DeviceTimeout, match=r"within 2 s: awaited 'm-ready' after 'infer 1000 0'.*device log") as e:
        emulate(qemu_elf, board="qemu-cortex-m4", model=kws, random=1, n=1000, warmup=0, timeout=2.0,
                infer_timeout=0.0, out_dir=tmp_path)
    assert e.value.exit_code == 4
    assert "m-infer-start-1" in str(e.value)  # the tail of what was received
    assert not any("qemu-system-arm" in _cmd(p) and str(qemu_elf) in _cmd(p) for p in _pids())


def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def test_ctrl_c_leaves_no_emulator(qemu_elf, kws, tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(TINYSHIP + ["emulate", str(qemu_elf), "--board", "qemu-cortex-m4", "--model", str(kws),
                                        "--random", "50", "-n", "5", "--run-dir", str(run_dir), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parents[1])
    deadline = time.monotonic() + 60
    while not (run_dir / "device.log").exists() or "m-infer-start" not in (run_dir / "device.log").read_text():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.1)
    qemu = [p for p in _pids() if str(run_dir) in _cmd(p) or (str(qemu_elf) in _cmd(p) and "qemu" in _cmd(p))]
    assert qemu
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert "interrupted" in err.decode()
    time.sleep(0.2)
    assert not [p for p in qemu if _alive(p)]


def test_board_defaults_to_the_one_the_firmware_was_built_for(built_firmware, kws, tmp_path):
    project = built_firmware(kws, "qemu-cortex-m4")[0]
    r = subprocess.run(TINYSHIP + ["emulate", str(project), "--random", "1", "-n", "1", "--warmup", "0", "-o",
                                   str(tmp_path), "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["device"]["board"] == "qemu-cortex-m4"


def test_host_runner_serves_the_native_firmware(built_firmware, kws, tmp_path):
    with HostRunner(built_firmware(kws, "host")[1].elf, run_dir=tmp_path) as runner:
        assert runner.client.boot.crc32 == runner.client.info()["model_crc32"]
        assert runner.client.info()["timer"] == "host"


def test_board_without_emulator_is_refused(qemu_elf):
    with pytest.raises(InputError, match="cannot be emulated with QEMU") as e:
        runner_for(load_board("nucleo-l4r5zi"), qemu_elf)
    assert e.value.exit_code == 2


def test_elf_of_another_board_is_refused(qemu_elf, kws, tmp_path):
    r = subprocess.run(TINYSHIP + ["emulate", str(qemu_elf), "--board", "qemu-cortex-m7", "--model", str(kws),
                                   "--run-dir", str(tmp_path)], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "was built for board 'qemu-cortex-m4', not 'qemu-cortex-m7'" in r.stderr
    assert not (tmp_path / "cmdline.txt").exists()  # refused before anything ran


def _relabelled(qemu_elf, board: str, tmp_path) -> Path:
    """The qemu-cortex-m4 ELF recorded as built for `board`: Renode never runs it here."""
    elf = tmp_path / f"{board}.elf"
    (tmp_path / "board").write_bytes(board.encode() + b"\0")
    subprocess.run(["arm-none-eabi-objcopy", f"--update-section=.tinyship.board={tmp_path / 'board'}",
                    str(qemu_elf), str(elf)], check=True)
    return elf


def test_renode_files(qemu_elf, tmp_path):
    elf = _relabelled(qemu_elf, "stm32f4-discovery", tmp_path)
    files = generate_renode(elf, load_board("stm32f4-discovery"), tmp_path, port=4567)
    resc = files["tinyship.resc"].read_text()
    for part in ("machine LoadPlatformDescription @platforms/boards/stm32f4_discovery-kit.repl",
                 "emulation CreateServerSocketTerminal $port \"tinyship_uart\" false",
                 "connector Connect sysbus.usart2 tinyship_uart", f"$elf?=@{elf.resolve()}", "$port?=4567", "start"):
        assert part in resc
    robot = files["tinyship.robot"].read_text()
    for part in ("Resource          ${RENODEKEYWORDS}", "Create Terminal Tester          ${UART}",
                 "Register Failing Uart String    e-[", "Wait For Line On Uart           m-boot-[tinyship board=stm32f4-discovery",
                 "Write Line To Uart              name%    waitForEcho=false",
                 "m-name-dut-[tinyship-stm32f4-discovery]"):
        assert part in robot
    # the fail marker is registered before the emulation starts, so a fault fails at once
    assert robot.index("Register Failing Uart String") < robot.index("Start Emulation")
    with pytest.raises(InputError, match="no Renode platform"):
        generate_renode(elf, load_board("qemu-cortex-m4"), tmp_path)
    with pytest.raises(InputError, match="no Renode platform"):  # Serial is USB CDC there
        generate_renode(elf, load_board("arduino-nano-33-ble"), tmp_path)
    with pytest.raises(InputError, match="built for board 'stm32f4-discovery', not 'stm32f746g-disco'"):
        generate_renode(elf, load_board("stm32f746g-disco"), tmp_path / "other")
    assert not (tmp_path / "other").exists()


@pytest.mark.skipif(shutil.which("renode") is not None, reason="Renode is installed here: the missing-tool path cannot run")
def test_renode_missing_says_how_to_install(qemu_elf, kws, tmp_path):
    elf = _relabelled(qemu_elf, "stm32f4-discovery", tmp_path)
    r = subprocess.run(TINYSHIP + ["emulate", str(elf), "--board", "stm32f4-discovery", "--emulator", "renode",
                                   "--model", str(kws), "--run-dir", str(tmp_path)],
                       capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert r.returncode == 4
    assert "Renode is not installed" in r.stderr and "renode.io" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "tinyship.resc").is_file() and (tmp_path / "tinyship.robot").is_file()
