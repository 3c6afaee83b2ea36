"""Lab 02, image classification: a small CNN on 8x8 handwritten digits, float vs int8 vs device.

Trains a CNN on scikit-learn's bundled digits (no download), converts it to INT8,
measures float and int8 accuracy on the host, then classifies the test set on the
board and checks that the device makes exactly the host int8 predictions.

    python labs/02_image_classification/lab.py [--board ID] [--quick] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from labs.common import plots  # noqa: E402
from labs.common.device import profile_rows, run_on_device  # noqa: E402
from labs.common.lab import Lab, quiet_tensorflow, run  # noqa: E402


def main(argv=None):
    lab = Lab("02_image_classification", __doc__, argv)
    quick = lab.args.quick
    from toolchain import convert

    with lab.step("Train the digits CNN in Keras (models/digits/train.py, fixed seed)"):
        from models.digits.train import train

        quiet_tensorflow()
        train(lab.out, epochs=12 if quick else 30)
        test = np.load(lab.out / "test.npz")
        x_test, y_test = test["x"], test["y"]
        lab.say(f"{len(x_test)} test images of 8x8 pixels, 10 classes; model {lab.out / 'digits.keras'}")

    with lab.step("Convert to INT8, calibrating on 200 training images, scoring on the test set"):
        result = convert(lab.out / "digits.keras", lab.out, calib=lab.out / "calib.npy",
                         eval_data=x_test, labels=y_test, name="digits")
        m = result.report["metrics"][0]
        lab.say(f"float accuracy {m['float_accuracy']:.2%}, int8 accuracy {m['int8_accuracy']:.2%}, "
                f"top-1 agreement {m['top1_agreement']:.2%}")
        lab.say(f"ops: {', '.join(f'{k} x{v}' for k, v in result.report['ops'].items())}")

    count = 60 if quick else len(x_test)
    with lab.step(f"Classify {'the first ' if count < len(x_test) else 'all '}{count} test images on "
                  f"{lab.args.board} (aot engine)"):
        np.savez(lab.out / "device_inputs.npz", x=x_test[:count], y=y_test[:count])
        device = run_on_device(lab, result.tflite_path, lab.out / "device_inputs.npz", float_model=result.float_path,
                               n=1, warmup=0)
        acc, v = device["validation"]["accuracy"], device["validation"]
        lab.say(f"on these {count} images: device accuracy {acc['device']:.2%}, host int8 {acc['int8_host']:.2%}, "
                f"host float {acc['float_host']:.2%}")
        lab.say(f"{v['top1_agree']}/{v['compared']} same predictions as the host, "
                f"{v['bit_exact']}/{v['compared']} outputs bit-exact")
        if count == len(x_test):
            same = "equals" if acc["device"] == m["int8_accuracy"] else "DIFFERS FROM"
            lab.say(f"device accuracy on the whole test set {same} the converter's int8 accuracy")

    with lab.step("Confusion matrix and per-layer latency"):
        predicted = np.array([s["top1_device"] for s in device["samples"]])
        matrix = np.zeros((10, 10), int)
        np.add.at(matrix, (y_test[:count], predicted), 1)
        lab.figure(plots.confusion(matrix, list(range(10)), f"digits on {lab.args.board}: "
                                   f"accuracy {acc['device']:.1%}"), "confusion")
        layers, unit = device["layers"], device["latency"]["cycles_are"]
        lab.figure(plots.bars([f"{r['i']} {r['name']}" for r in layers], [r["cycles"] for r in layers], xlabel=unit,
                              title=f"{unit} per layer on {lab.args.board} (median over the images)"), "layers")
        lab.table("Per-layer latency", ["layer", unit, "share"],
                  [[f"{r['i']} {r['name']}", f"{r['cycles']:,.0f}", f"{r['share']:.0%}"] for r in layers])

    lab.table(f"Profile on {lab.args.board}", ["figure", "value"], profile_rows(device))
    lab.finish({
        "accuracy": {"test_images": len(x_test), "float": m["float_accuracy"], "int8": m["int8_accuracy"],
                     "device_images": count, "device": acc["device"], "device_int8_host": acc["int8_host"]},
        "confusion": matrix,
        "device": device,
    })


if __name__ == "__main__":
    run(main)
