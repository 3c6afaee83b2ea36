"""The course labs: their helpers offline, and every lab end to end in --quick mode on QEMU."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA as SHARED
from labs.common.samples import person_input, read_ad_sample, read_bmp

ROOT = Path(__file__).resolve().parents[1]


# -- sample readers --------------------------------------------------------------------
def _bmp(pixels: np.ndarray, top_down: bool) -> bytes:
    h, w = pixels.shape
    stride = (w + 3) // 4 * 4
    rows = pixels if top_down else pixels[::-1]
    body = b"".join(r.tobytes() + b"\0" * (stride - w) for r in rows)
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    header = struct.pack("<2sIHHI", b"BM", offset + len(body), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if top_down else h, 1, 8, 0, len(body), 2835, 2835, 256, 0)
    return header + info + palette + body


@pytest.mark.parametrize("top_down", [False, True])
def test_read_bmp_handles_row_order_and_padding(tmp_path, top_down):
    pixels = np.arange(5 * 7, dtype=np.uint8).reshape(5, 7) * 7  # width 7: 1 byte of padding per row
    (tmp_path / "x.bmp").write_bytes(_bmp(pixels, top_down))
    assert np.array_equal(read_bmp(tmp_path / "x.bmp"), pixels)


@pytest.mark.usefixtures("shared_data")
def test_person_samples_decode_to_the_model_input_tflm_uses():
    from toolchain.reference import tflm_run

    model = SHARED / "tflm" / "person_detect.tflite"
    images = [read_bmp(SHARED / "tflm" / n) for n in ("person.bmp", "no_person.bmp")]
    assert all(im.shape == (96, 96) for im in images)
    (person,), (no_person,) = tflm_run(model, [[person_input(im)] for im in images])
    # output = (not person, person) scores; TFLM's person_detection_test expects these verdicts
    assert person[0, 1] > person[0, 0] and no_person[0, 0] > no_person[0, 1]


@pytest.mark.usefixtures("shared_data")
def test_read_ad_sample_gives_40_windows_of_640_values():
    windows = read_ad_sample(SHARED / "mlperf_tiny" / "normal_id_01_00000000_hist_librosa.bin")
    assert windows.shape == (40, 640) and windows.dtype == np.float32
    raw = np.frombuffer((SHARED / "mlperf_tiny" / "normal_id_01_00000000_hist_librosa.bin").read_bytes(), "<f4")
    assert np.array_equal(windows[1], raw[640:1280])


# -- the labs, end to end in --quick mode on QEMU --------------------------------------------
def run_lab(name: str, out: Path, *extra: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "labs" / name / "lab.py"), "--quick", "--board",
                           "qemu-cortex-m4", "--out", str(out), *extra], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["figures"] and all((out / f).stat().st_size > 1000 for f in report["figures"])
    return report


def assert_device_matches_host(device: dict, count: int):
    v = device["validation"]
    assert device["status"] == "complete" and v["reference"] == "tflm"
    assert v["compared"] == count and v["bit_exact"] == count and v["max_abs_diff"] == 0 and v["passed"]
    assert device["device"]["engine"] == "aot" and device["latency"]["cycles"]["median"] > 0


@pytest.mark.slow
def test_lab01_hello_world(tmp_path):
    report = run_lab("01_hello_world", tmp_path)
    assert_device_matches_host(report["device"], 24)
    assert report["accuracy"]["mae_float_vs_sin"] < 0.15
    assert report["accuracy"]["mae_device_vs_int8"] < 1e-5  # same int8 bytes, dequantized at %.6f
    assert {"predictions.png"} <= set(report["figures"])
    # the README's `make demo` transcript shows these figures (the demo is the full run: same model, same firmware)
    from docs.readme_transcript import README, figures, readme_block

    device = report["device"]
    static = device["memory"]["static"]
    measured = {"instructions": round(device["latency"]["cycles"]["median"]), "arena": device["memory"]["arena_used"],
                "stack": device["memory"]["stack_used"], "flash": static["flash"]["total"], "ram": static["ram"]["total"],
                "model_flash": static["flash"]["model"]}
    assert figures(readme_block(README.read_text())) == measured, "the README transcript is stale: run `make readme`"


@pytest.mark.slow
def test_lab02_device_accuracy_equals_host_int8_exactly(tmp_path):
    report = run_lab("02_image_classification", tmp_path)
    acc, device = report["accuracy"], report["device"]
    assert_device_matches_host(device, acc["device_images"])
    assert device["validation"]["top1_agree"] == acc["device_images"]
    assert acc["device"] == acc["device_int8_host"] == device["validation"]["accuracy"]["int8_host"]
    assert abs(acc["float"] - acc["int8"]) <= 0.02 and acc["test_images"] == 360
    assert np.sum(report["confusion"]) == acc["device_images"]
    assert {"confusion.png", "layers.png"} <= set(report["figures"])


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data")
def test_lab04_anomaly_detection(tmp_path):
    report = run_lab("04_anomaly_detection", tmp_path)
    assert_device_matches_host(report["device"], report["windows"])
    scores = report["anomaly_score"]
    device = next(v for k, v in scores.items() if "qemu" in k)
    host = scores["int8 tinyship (host TFLM)"]
    assert device == pytest.approx(host, rel=1e-4)
    assert host == pytest.approx(scores["float (host)"], rel=0.1)


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data")
def test_lab03_keyword_spotting(tmp_path):
    report = run_lab("03_keyword_spotting", tmp_path)
    for name in ("kws", "micro_speech"):
        assert_device_matches_host(report["devices"][name], 2)
        analysis, memory = report["analysis"][name], report["memory"][name]
        assert analysis["totals"]["macs"] == sum(layer["macs"] for layer in analysis["layers"])
        assert memory["aot"]["arena"] == report["devices"][name]["memory"]["arena_used"] > 0
        assert memory["tflm"]["arena"] == analysis["arena"]["total_32"] and memory["tflm"]["flash"] is None
        assert (tmp_path / f"{name}_resolver.h").read_text().count("resolver.Add") == len(set(analysis["model"]["ops"]))
    assert 2.6e6 < report["analysis"]["kws"]["totals"]["macs"] < 2.7e6  # MLPerf Tiny quotes ~2.66 M
    fit = {r["board"]: r["fits"] for r in report["fit"]["kws"]["aot"]}
    assert fit["qemu-cortex-m4"] and not fit["stm32f103-bluepill"]
    assert {"arena_kws.png", "layers_kws.png", "memory_by_engine.png"} <= set(report["figures"])


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data")
def test_lab05_person_detection(tmp_path):
    report = run_lab("05_person_detection", tmp_path)
    assert_device_matches_host(report["device"], 2)
    host = report["host"]
    assert host["person"]["p_person"] > 0.5 > host["no_person"]["p_person"]
    assert [s["top1_device"] for s in report["device"]["samples"]] == [1, 0]
    for engine in ("aot", "tflm"):
        fit = {r["board"]: r for r in report["fit"][engine]}
        assert fit["qemu-cortex-m4"]["fits"] and not fit["stm32f103-bluepill"]["fits"]
    assert report["analysis"]["arena_aot"] == report["device"]["memory"]["arena_used"]
    assert {"inputs.png", "board_fit_aot.png", "board_fit_tflm.png"} <= set(report["figures"])
