"""`profile` against the real host firmware on a socket:// port, and input handling."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toolchain import profile
from toolchain.device.client import DeviceClient
from toolchain.device.runner import HostRunner
from toolchain.device.runner import free_port
from toolchain.errors import DeviceError, InputError
from toolchain.model import load_model
from toolchain.profile import run_session, select_samples
from toolchain.profile.inputs import load_samples, quantize
from toolchain.reference import tflm_run

TINYSHIP = [sys.executable, "-m", "toolchain"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def host_device(built_firmware, kws):
    """The kws host firmware on a free port, as a user's device would be: yields its URL.

    Not probed: it serves one connection; the transport retries until it listens."""
    port = free_port()
    proc = subprocess.Popen([str(built_firmware(kws, "host")[1].elf), "--serial", f"tcp:{port}"])
    yield f"socket://127.0.0.1:{port}"
    proc.kill()
    proc.wait()


@pytest.mark.slow
def test_profile_over_a_socket_url(host_device, kws, tmp_path):
    report = profile(host_device, kws, random=4, seed=3, n=2, warmup=1, out_dir=tmp_path, junit=tmp_path / "j.xml")
    assert report["status"] == "complete"
    v = report["validation"]
    assert (v["bit_exact"], v["compared"], v["max_abs_diff"], v["passed"]) == (4, 4, 0, True)
    assert report["latency"]["cycles"]["count"] == 8 and report["latency"]["cycles"]["min"] > 0
    assert report["latency"]["label"] == "measured" and report["latency"]["cycles_are"] == "ns"
    assert len(report["layers"]) == 13 and abs(sum(l["share"] for l in report["layers"]) - 1) < 1e-9
    assert report["memory"]["arena_used"] > 0
    assert json.loads((tmp_path / "report.json").read_text())["validation"]["bit_exact"] == 4
    assert "<testsuite" in (tmp_path / "j.xml").read_text()
    s = report["samples"][0]  # the MLPerf-style float results agree with the raw int8 outputs
    assert len(s["results"]) == 12 and s["results"][s["top1_device"]] == max(s["results"])


@pytest.mark.slow
def test_stale_firmware_exits_5(host_device, shared_data, tmp_path):
    other = shared_data / "mlperf_tiny" / "ad01_int8.tflite"
    r = subprocess.run(TINYSHIP + ["profile", "--port", host_device, "--model", str(other), "--random", "1",
                                   "-o", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 5, r.stderr
    assert "runs model 'kws_ref_model'" in r.stderr and "rebuild and flash" in r.stderr
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "partial"


@pytest.mark.slow
def test_accuracy_with_labels_and_float_inputs(host_device, kws, shared_data, tmp_path):
    m = load_model(kws)
    t = m.main.input_tensors()[0]
    rng = np.random.default_rng(0)
    x = rng.uniform(-20, 40, size=(6, *t.shape[1:])).astype(np.float32)  # float data, quantized on the way
    np.save(tmp_path / "x.npy", x)
    labels = tflm_run(m, [[quantize(xi.reshape(t.shape), t)] for xi in x])
    y = np.array([int(np.argmax(o[0])) for o in labels])
    y[0] = (y[0] + 1) % 12  # one wrong label: accuracies are 5/6, not trivially 1
    np.save(tmp_path / "y.npy", y)
    report = profile(host_device, kws, inputs=tmp_path / "x.npy", labels=tmp_path / "y.npy", n=1, warmup=0,
                     float_model=shared_data / "mlperf_tiny" / "kws_ref_model_float32.tflite")
    acc = report["validation"]["accuracy"]
    assert acc["device"] == acc["int8_host"] == pytest.approx(5 / 6)
    assert 0 <= acc["float_host"] <= 1
    assert [s["name"] for s in report["samples"]] == [f"x[{i}]" for i in range(6)]


def test_port_auto_without_a_board_exits_4(kws):
    # No USB board is attached to the build machines: --port auto must say so, not guess.
    r = subprocess.run(TINYSHIP + ["profile", "--port", "auto", "--model", str(kws), "--random", "1"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 4
    assert "--port auto found no known board" in r.stderr and "Traceback" not in r.stderr


def test_unreachable_port_exits_4(kws):
    with pytest.raises(DeviceError, match="cannot open port socket://127.0.0.1:"):
        profile(f"socket://127.0.0.1:{free_port()}", kws, random=1, timeout=0.5)


def test_inputs_from_files(kws, shared_data, tmp_path):
    m = load_model(kws)
    t = m.main.input_tensors()[0]
    ints = np.arange(490, dtype=np.int8).reshape(t.shape)
    np.save(tmp_path / "a.npy", ints)
    np.savez(tmp_path / "b.npz", x=np.stack([ints, ints]).astype(np.float32) * 0.5)
    s = load_samples(tmp_path, m)
    assert s.names == ["a", "b[0]", "b[1]"]
    assert np.array_equal(s.arrays[0][0], ints)
    assert np.array_equal(s.arrays[1][0], quantize(ints.astype(np.float32) * 0.5, t))
    ad = load_model(shared_data / "mlperf_tiny" / "ad01_int8.tflite")
    samples = load_samples(shared_data / "mlperf_tiny" / "normal_id_01_00000000_hist_librosa.bin", ad)
    assert len(samples.names) == 40 and samples.arrays[0][0].shape == (1, 640)


@pytest.mark.parametrize("content,match", [
    (np.zeros(7, np.float32), "do not make whole samples"),
    (np.zeros(490, np.int16), "integer data of dtype int16"),
])
def test_bad_inputs_are_input_errors(kws, tmp_path, content, match):
    np.save(tmp_path / "bad.npy", content)
    with pytest.raises(InputError, match=match) as e:
        load_samples(tmp_path / "bad.npy", load_model(kws))
    assert e.value.exit_code == 2


class CorruptFrom:
    """Wraps a real transport and flips one output byte of every layer from `layer` on.

    The aot firmware is bit-exact, so it cannot diverge by itself: this stands in for a
    faulty kernel, with the real firmware answering everything else."""

    def __init__(self, transport, layer):
        self.inner, self.layer = transport, layer
        self.url, self.log_path = transport.url, transport.log_path

    def send(self, command):
        self.inner.send(command)

    def tail(self):
        return self.inner.tail()

    def allow_lines(self, max_line):
        self.inner.allow_lines(max_line)

    @property
    def received(self):
        return self.inner.received

    def read_line(self, timeout):
        line = self.inner.read_line(timeout)
        m = re.match(r"m-(outputs|dump-(\d+))-([0-9a-f]{2})(.*)", line or "")
        if m and (m.group(2) is None or int(m.group(2)) >= self.layer):
            prefix = line[: m.start(3)]
            line = f"{prefix}{int(m.group(3), 16) ^ 1:02x}{m.group(4)}"
        return line


@pytest.mark.slow
def test_first_diverging_layer_is_found(built_firmware, kws, tmp_path):
    model = load_model(kws)
    with HostRunner(built_firmware(kws, "host")[1].elf, run_dir=tmp_path) as runner:
        client = DeviceClient(CorruptFrom(runner.transport, layer=5))
        client.boot = runner.client.boot
        report = run_session(client, model, select_samples(model, random=2), n=1, warmup=0, tolerance=1,
                             out_dir=tmp_path / "out")
    v = report["validation"]
    assert (v["bit_exact"], v["max_abs_diff"], v["passed"]) == (0, 1, True)
    assert v["first_divergence"] == {"sample": 0, "output_index": 0, "layer": 5, "layer_name": "DEPTHWISE_CONV_2D depthwise_conv2d_2"}
    assert "first diverging layer 5 (DEPTHWISE_CONV_2D depthwise_conv2d_2)" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.slow
def test_float_io_model_profiles_with_random_inputs(built_firmware, convert_keras, tmp_path):
    """An int8 model with float input and output (QUANTIZE/DEQUANTIZE at its ends): `--random`
    draws floats the input's QUANTIZE can represent, and the float outputs validate bit-exact."""
    import keras

    keras.utils.set_random_seed(7)
    x = keras.Input((6, 6, 2), batch_size=1)
    y = keras.layers.Conv2D(3, 3, activation="relu")(x)
    model = keras.Model(x, keras.layers.Dense(4)(keras.layers.Flatten()(y)))
    calib = np.random.default_rng(7).uniform(-2, 2, (32, 6, 6, 2)).astype(np.float32)
    path = convert_keras(model, calib, io="float")
    m = load_model(path)
    assert [t.dtype for t in m.main.input_tensors() + m.main.output_tensors()] == ["float32", "float32"]
    samples = select_samples(m, random=3, seed=1)
    assert all(s[0].dtype == np.float32 and 0 < np.abs(s[0]).max() < 100 for s in samples.arrays)
    port = free_port()
    proc = subprocess.Popen([str(built_firmware(path, "host")[1].elf), "--serial", f"tcp:{port}"])
    try:
        report = profile(f"socket://127.0.0.1:{port}", path, random=3, seed=1, n=1, warmup=0, out_dir=tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert report["status"] == "complete" and report["validation"]["passed"]
    assert report["validation"]["compared"] == 3
