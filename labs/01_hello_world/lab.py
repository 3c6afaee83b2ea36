"""Lab 01, hello world: a sine regressor from Keras to a Cortex-M4, float vs int8 vs device.

Trains the classic TinyML "hello world" (y = sin(x), three dense layers), converts it
to a fully INT8 .tflite, runs it on the board (QEMU for qemu-* boards) and compares the
device's predictions over [0, 2pi] with the float and int8 models on the host.

    python labs/01_hello_world/lab.py [--board ID] [--quick] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from labs.common import plots  # noqa: E402
from labs.common.device import profile_rows, run_on_device  # noqa: E402
from labs.common.lab import Lab, quant_text, quiet_tensorflow, run  # noqa: E402


def main(argv=None):
    lab = Lab("01_hello_world", __doc__, argv)
    quick = lab.args.quick
    from toolchain import convert, load_model
    from toolchain.profile.inputs import dequantize, quantize
    from toolchain.reference import litert_run, tflm_run

    with lab.step("Train the sine model in Keras (models/sine/train.py, fixed seed)"):
        from models.sine.train import train

        quiet_tensorflow()
        train(lab.out, epochs=100 if quick else 500)
        lab.say(f"wrote {lab.out / 'sine.keras'} and {lab.out / 'calib.npy'} (calibration inputs)")

    with lab.step("Convert to a fully INT8 .tflite (toolchain.convert)"):
        result = convert(lab.out / "sine.keras", lab.out, calib=lab.out / "calib.npy", name="sine")
        size = result.report["size"]
        lab.say(f"float {size['float_bytes']:,} B -> int8 {size['int8_bytes']:,} B (x{size['ratio']})")
        model = load_model(result.tflite_path)
        inp, out = model.main.input_tensors()[0], model.main.output_tensors()[0]
        lab.say(f"input  int8: {quant_text(inp)}")
        lab.say(f"output int8: {quant_text(out)}")

    x = np.linspace(0, 2 * np.pi, 24 if quick else 100, dtype=np.float32)
    with lab.step(f"Predict {len(x)} points of [0, 2pi] on the host: float (LiteRT) and int8 (TFLM)"):
        y_float = np.array([o[0].item() for o in litert_run(result.float_path, [[v.reshape(1, 1)] for v in x])])
        q = quantize(x, inp)
        y_int8 = dequantize(np.array([o[0].item() for o in tflm_run(model, [[v.reshape(1, 1)] for v in q])]), out)
        lab.say(f"mean |float - sin| = {np.mean(np.abs(y_float - np.sin(x))):.4f}, "
                f"mean |int8 - float| = {np.mean(np.abs(y_int8 - y_float)):.4f}")

    with lab.step(f"Deploy to {lab.args.board} and run the same {len(x)} points there (aot engine)"):
        np.save(lab.out / "inputs.npy", x.reshape(-1, 1, 1))
        device = run_on_device(lab, result.tflite_path, lab.out / "inputs.npy")
        y_device = np.array([s["results"][0] for s in device["samples"]])
        exact = device["validation"]["bit_exact"]
        lab.say(f"device == host TFLM byte for byte on {exact}/{len(x)} inputs "
                f"(max |diff| {device['validation']['max_abs_diff']} quantized steps)")

    with lab.step("Plot float vs int8 vs device"):
        lab.figure(plots.predictions(x, np.sin(x), {"float (host)": y_float, "int8 (host TFLM)": y_int8,
                                                    f"int8 ({lab.args.board})": y_device},
                                     "sine: float vs int8 vs device"), "predictions")

    lab.table(f"Profile on {lab.args.board}", ["figure", "value"], profile_rows(device))
    lab.finish({
        "model": {"int8": result.tflite_path.name, "float": result.float_path.name, "bytes": size},
        "accuracy": {"mae_float_vs_sin": float(np.mean(np.abs(y_float - np.sin(x)))),
                     "mae_int8_vs_float": float(np.mean(np.abs(y_int8 - y_float))),
                     "mae_device_vs_int8": float(np.mean(np.abs(y_device - y_int8)))},
        "device": device,
    })


if __name__ == "__main__":
    run(main)
