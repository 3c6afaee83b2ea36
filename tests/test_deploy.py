"""`deploy` end to end, offline: QEMU and host boards, a converted Keras model, early stops."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toolchain import deploy
from toolchain.errors import DoesNotFitError, InputError

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_kws_on_qemu_cli(shared_data, tmp_path):
    kws = shared_data / "mlperf_tiny" / "kws_ref_model.tflite"
    r = subprocess.run([sys.executable, "-m", "toolchain", "deploy", str(kws), "--board", "qemu-cortex-m4", "--emulate",
                        "--random", "20", "-n", "1", "--warmup", "0", "-o", str(tmp_path), "--json"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    v, lat, mem = report["validation"], report["latency"], report["memory"]
    assert (v["bit_exact"], v["compared"], v["passed"]) == (20, 20, True)
    assert lat["label"] == "emulated" and lat["cycles"]["count"] == 20 and lat["cycles"]["std"] < 0.001 * lat["cycles"]["median"]
    assert 0 < mem["arena_used"] <= mem["arena_size"] and 0 < mem["stack_used"] < mem["stack_size"]
    assert mem["static"]["flash"]["model"] > 0
    assert report["context"]["deploy"]["analyze"]["macs"] > 2_000_000
    for name in ("report.json", "report.md", "report.html", "device.log"):
        assert (tmp_path / "report" / name).is_file()


def test_kws_on_host(shared_data, tmp_path):
    report = deploy(shared_data / "mlperf_tiny" / "kws_ref_model.tflite", board="host", random=20, n=1, warmup=0,
                    out_dir=tmp_path)
    assert report["validation"]["bit_exact"] == 20 and report["latency"]["cycles_are"] == "ns"
    assert report["memory"]["arena_used"] > 0


def test_ad01_with_the_shared_sample_on_qemu(shared_data, tmp_path):
    sample = shared_data / "mlperf_tiny" / "normal_id_01_00000000_hist_librosa.bin"
    report = deploy(shared_data / "mlperf_tiny" / "ad01_int8.tflite", board="qemu-cortex-m4", inputs=sample,
                    n=1, warmup=0, out_dir=tmp_path)
    assert report["run"]["inputs"] == 40
    assert report["validation"]["bit_exact"] == 40 and report["validation"]["passed"]
    assert report["latency"]["cycles"]["min"] > 0 and report["memory"]["stack_used"] > 0


def test_keras_model_with_calibration(tmp_path):
    import keras

    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(4, activation="softmax")])
    model.save(tmp_path / "tiny.keras")
    np.save(tmp_path / "calib.npy", rng.normal(size=(64, 8)).astype(np.float32))
    report = deploy(tmp_path / "tiny.keras", board="qemu-cortex-m4", calib=str(tmp_path / "calib.npy"), random=5,
                    n=1, warmup=0, out_dir=tmp_path / "out")
    assert report["status"] == "complete" and report["validation"]["bit_exact"] == 5
    assert (tmp_path / "out" / "model").is_dir() and (tmp_path / "out" / "report" / "report.html").is_file()
    assert report["context"]["deploy"]["convert"]["tflite"].endswith(".tflite")


def test_stops_early_when_it_does_not_fit(shared_data, tmp_path):
    with pytest.raises(DoesNotFitError) as e:
        deploy(shared_data / "tflm" / "person_detect.tflite", board="stm32f103-bluepill", engine="aot",
               out_dir=tmp_path / "out")
    assert e.value.exit_code == 3
    assert not (tmp_path / "out" / "firmware").exists()


def test_flash_explains_emulated_boards_and_non_projects(built_firmware, shared_data, tmp_path):
    project, _ = built_firmware(shared_data / "mlperf_tiny" / "kws_ref_model.tflite", "qemu-cortex-m4")
    for target, message in ((project, "use tinyship emulate"), (tmp_path, "not a tinyship project")):
        r = subprocess.run([sys.executable, "-m", "toolchain", "flash", str(target)], capture_output=True, text=True,
                           cwd=ROOT)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def _runs(path) -> str:
    import yaml

    return "\n".join(s.get("run", "") for s in yaml.safe_load(path.read_text())["jobs"]["emulate"]["steps"])


def test_ci_init_writes_a_workflow(tmp_path):
    from toolchain.ci import init_workflow

    runs = _runs(init_workflow("models/kws.tflite", board="stm32f746g-disco", path=tmp_path / "wf.yml", install="."))
    assert "renode" in runs and 'pip install .' in runs
    assert "tinyship emulate build/tinyship-fw --board stm32f746g-disco --emulator renode" in runs
    assert "--junit build/tinyship-junit.xml" in runs
    qemu = _runs(init_workflow("m.tflite", path=tmp_path / "q.yml", install="."))
    assert "--emulator qemu" in qemu and "renode" not in qemu.lower()  # no Renode download for a QEMU board
    f4 = _runs(init_workflow("m.tflite", board="stm32f4-discovery", path=tmp_path / "f4.yml", install="."))
    assert "--board stm32f4-discovery --emulator qemu" in f4
    with pytest.raises(InputError, match="exists"):
        init_workflow("m.tflite", path=tmp_path / "q.yml")


def test_ci_installs_tinyship_from_its_source(tmp_path, monkeypatch):
    """tinyship is on no package index: CI installs the checkout ('.') or its git remote at its commit."""
    import toolchain.ci as ci

    checkout = tmp_path / "tinyship"
    for args in (["init", "-q"], ["remote", "add", "origin", "git@github.com:org/tinyship.git"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", "-C", str(checkout), *args] if args[0] != "init" else ["git", *args, str(checkout)],
                       check=True, timeout=30)
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    monkeypatch.setattr(ci, "CHECKOUT", checkout)
    assert 'pip install .' in _runs(ci.init_workflow("m.tflite", path=checkout / ".github" / "workflows" / "t.yml"))
    runs = _runs(ci.init_workflow("m.tflite", path=tmp_path / "user" / "wf.yml"))
    assert f'pip install git+ssh://git@github.com/org/tinyship.git@{commit}' in runs
    subprocess.run(["git", "-C", str(checkout), "remote", "remove", "origin"], check=True, timeout=30)
    with pytest.raises(InputError, match="--install"):
        ci.init_workflow("m.tflite", path=tmp_path / "user" / "other.yml")


def _processes_running(path_part: str) -> list[int]:
    """Pids of live processes whose command line mentions `path_part` (a unique temp path)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and path_part.encode() in (proc / "cmdline").read_bytes():
                if (proc / "stat").read_text().split(")")[-1].split()[0] != "Z":
                    pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_sigterm_stops_deploy_cleanly(shared_data, tmp_path):
    """SIGTERM while QEMU runs the model: exit 143, one line, a partial report, no QEMU left."""
    import signal
    import time

    model = shared_data / "tflm" / "hello_world_int8.tflite"
    proc = subprocess.Popen([sys.executable, "-m", "toolchain", "deploy", str(model), "--board", "qemu-cortex-m4",
                             "--random", "500", "-n", "20", "-o", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    log, t0 = tmp_path / "report" / "device.log", time.monotonic()
    while not (log.is_file() and log.read_text().count("> infer") >= 3):
        assert proc.poll() is None and time.monotonic() - t0 < 300, proc.communicate()
        time.sleep(0.2)
    qemu = [pid for pid in _processes_running(str(tmp_path)) if pid != proc.pid]
    assert qemu, "QEMU should be running the firmware"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == ("tinyship: terminated (SIGTERM) during profile; tools stopped, partial "
                                            f"report in {tmp_path / 'report' / 'report.json'}")
    assert "Traceback" not in err
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["status"] == "partial" and report["error"]["exit_code"] == 143 and report["error"]["stage"] == "profile"
    assert len(report["samples"]) >= 2
    assert _processes_running(str(tmp_path)) == []
