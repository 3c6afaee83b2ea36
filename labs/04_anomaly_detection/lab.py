"""Lab 04, anomaly detection: MLPerf Tiny's ad01 autoencoder, converted by tinyship, on a Cortex-M.

Converts the benchmark's legacy Keras file (ad01.h5, TF 2.3 era) to INT8, feeds the
benchmark's sample (40 windows of 640 log-mel values) and compares the reconstruction
error -- the anomaly score -- of the float model, the int8 model on the host, the int8
model on the board, and the benchmark's own int8 conversion (ad01_int8.tflite).

    python labs/04_anomaly_detection/lab.py [--board ID] [--quick] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from labs.common import plots  # noqa: E402
from toolchain.zoo import data_file  # noqa: E402
from labs.common.device import profile_rows, run_on_device  # noqa: E402
from labs.common.lab import Lab, quiet_tensorflow, run  # noqa: E402
from labs.common.samples import read_ad_sample  # noqa: E402


def main(argv=None):
    lab = Lab("04_anomaly_detection", __doc__, argv)
    from toolchain import convert, load_model
    from toolchain.profile.inputs import dequantize, quantize
    from toolchain.reference import litert_run, tflm_run

    with lab.step("Read the AD sample: 102400 bytes of float32 = 40 windows x 640 values"):
        windows = read_ad_sample(data_file("mlperf_tiny/normal_id_01_00000000_hist_librosa.bin"))
        lab.say(f"{windows.shape[0]} windows, values in [{windows.min():.1f}, {windows.max():.1f}]")
        np.save(lab.out / "windows.npy", windows)
        used = windows[:8] if lab.args.quick else windows
        np.save(lab.out / "inputs.npy", used)

    quiet_tensorflow()
    with lab.step("Convert ad01.h5 (legacy Keras HDF5) to INT8, calibrating on the 40 windows"):
        result = convert(data_file("mlperf_tiny/ad01.h5"), lab.out, calib=lab.out / "windows.npy", name="ad01")
        r = result.report
        lab.say(f"loaded as {r['loader']}; ops {r['ops']}; {r['size']['float_bytes']:,} B float -> "
                f"{r['size']['int8_bytes']:,} B int8")
        for note in r["notes"] + r["warnings"]:
            lab.say(f"note: {note}")
        model = load_model(result.tflite_path)
        inp, out = model.main.input_tensors()[0], model.main.output_tensors()[0]

    with lab.step(f"Reconstruct {len(used)} windows on the host: float (LiteRT), int8 (TFLM), benchmark int8"):
        samples = [[w.reshape(1, -1)] for w in used]
        rec_float = np.stack([o[0].ravel() for o in litert_run(result.float_path, samples)])
        rec_int8 = np.stack([dequantize(o[0], out).ravel()
                             for o in tflm_run(model, [[quantize(s[0], inp)] for s in samples])])
        bench = load_model(data_file("mlperf_tiny/ad01_int8.tflite"))
        b_in, b_out = bench.main.input_tensors()[0], bench.main.output_tensors()[0]
        rec_bench = np.stack([dequantize(o[0], b_out).ravel()
                              for o in tflm_run(bench, [[quantize(s[0], b_in)] for s in samples])])

    with lab.step(f"Run the same windows on {lab.args.board} (aot engine)"):
        device = run_on_device(lab, result.tflite_path, lab.out / "inputs.npy")
        rec_device = np.stack([s["results"] for s in device["samples"]]).astype(np.float32)
        v = device["validation"]
        lab.say(f"device == host TFLM byte for byte on {v['bit_exact']}/{v['compared']} windows")

    mse = {name: np.mean((rec - used) ** 2, axis=1) for name, rec in
           [("float (host)", rec_float), ("int8 tinyship (host TFLM)", rec_int8),
            (f"int8 tinyship ({lab.args.board})", rec_device), ("int8 MLPerf Tiny (host TFLM)", rec_bench)]}
    with lab.step("Compare the anomaly scores (reconstruction MSE per window)"):
        lab.figure(plots.reconstruction(mse, "ad01: reconstruction error per window"), "reconstruction_error")
        lab.table("Anomaly score = mean over the windows of the reconstruction MSE", ["model", "score", "vs float"],
                  [[k, f"{e.mean():.3f}", f"{(e.mean() / mse['float (host)'].mean() - 1):+.2%}"]
                   for k, e in mse.items()])

    lab.table(f"Profile on {lab.args.board}", ["figure", "value"], profile_rows(device))
    lab.finish({
        "windows": len(used),
        "anomaly_score": {k: float(e.mean()) for k, e in mse.items()},
        "mse_per_window": {k: e for k, e in mse.items()},
        "device": device,
    })


if __name__ == "__main__":
    run(main)
