"""Lab 05, person detection: TFLM's person_detect on two images, and which boards it fits.

Decodes the two 96x96 BMP samples with our own reader, turns them into the model's
int8 input, runs them on the host (TFLM) and on the board, and surveys the board
catalog: flash and RAM needed against each board's budget, for both engines.

    python labs/05_person_detection/lab.py [--board ID] [--quick] [--out DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

from labs.common import plots  # noqa: E402
from toolchain.zoo import data_file  # noqa: E402
from labs.common.device import profile_rows, run_on_device  # noqa: E402
from labs.common.fit import survey  # noqa: E402
from labs.common.lab import Lab, quant_text, run  # noqa: E402
from labs.common.samples import person_display, person_input, read_bmp  # noqa: E402

IMAGES = ["person", "no_person"]
CLASSES = ["not person", "person"]  # the model's output order


def main(argv=None):
    lab = Lab("05_person_detection", __doc__, argv)
    from toolchain import analyze, load_model
    from toolchain.reference import tflm_run

    tflite = data_file("tflm/person_detect.tflite")
    model = load_model(tflite)
    inp, out = model.main.input_tensors()[0], model.main.output_tensors()[0]

    with lab.step("Decode the BMP samples (labs/common/samples.py: header, palette, bottom-up rows)"):
        images = {name: read_bmp(data_file(f"tflm/{name}.bmp")) for name in IMAGES}
        for name, img in images.items():
            lab.say(f"{name}.bmp: {img.shape[1]}x{img.shape[0]} 8-bit grey, mean byte {img.mean():.0f}")
        lab.say(f"model input: {list(inp.shape)} int8, {quant_text(inp)}")

    with lab.step("Make the model inputs: the file bytes as int8, as TFLM's person_detection_test does"):
        inputs = np.stack([person_input(img) for img in images.values()])
        np.save(lab.out / "inputs.npy", inputs)
        lab.figure(plots.images({f"{n}.bmp as the model sees it\n(int8 + 128)": person_display(img)
                                 for n, img in images.items()}, "person_detect inputs"), "inputs")

    with lab.step("Score them on the host with the TFLM interpreter"):
        host = [o[0].ravel() for o in tflm_run(model, [[x] for x in inputs])]
        shifted = [o[0].ravel() for o in tflm_run(model, [[(img.astype(np.int16) - 128).astype(np.int8)
                                                            .reshape(inp.shape)] for img in images.values()])]
        rows = []
        for name, h, s in zip(IMAGES, host, shifted):
            rows.append([name, _verdict(h, out), _verdict(s, out)])
        lab.table("Host TFLM: P(person)", ["image", "bytes as int8 (TFLM's test)", "pixel - 128 (a photo)"], rows)

    with lab.step("Analyze: MACs, weights, arena for each engine"):
        a_tflm, a_aot = analyze(tflite, engine="tflm"), analyze(tflite, engine="aot", board=lab.args.board)
        lab.say(f"{len(a_tflm.layers)} layers, {a_tflm.macs:,} MACs, {a_tflm.params:,} parameters, "
                f"{a_tflm.model.size:,} B flatbuffer")
        lab.say(f"arena: tflm {a_tflm.arena_32:,} B (planned head + interpreter tail), "
                f"aot {a_aot.fit.arena_bytes:,} B on {lab.args.board} (activations and kernel scratch)")

    with lab.step("Will it fit? Every board of the catalog, both engines"):
        fits = survey(lab, tflite, "person_detect")

    with lab.step(f"Run both images on {lab.args.board} (aot engine)"):
        n, warmup = (1, 0) if lab.args.quick else (3, 1)
        device = run_on_device(lab, tflite, lab.out / "inputs.npy", n=n, warmup=warmup)
        for name, s, h in zip(IMAGES, device["samples"], host):
            lab.say(f"{name}: device says {CLASSES[s['top1_device']]} "
                    f"(P(person) = {s['results'][1]:.3f}), bit-exact with the host: {s['bit_exact']}")

    lab.table(f"Profile on {lab.args.board}", ["figure", "value"], profile_rows(device))
    lab.finish({
        "host": {name: {"scores": h, "p_person": _p_person(h, out)} for name, h in zip(IMAGES, host)},
        "analysis": {"macs": a_tflm.macs, "params": a_tflm.params, "arena_tflm": a_tflm.arena_32,
                     "arena_aot": a_aot.fit.arena_bytes},
        "fit": fits,
        "device": device,
    })


def _p_person(scores, out) -> float:
    q = out.quantization
    return float((int(scores[1]) - q.zero_point[0]) * q.scale[0])


def _verdict(scores, out) -> str:
    p = _p_person(scores, out)
    return f"{p:.3f} -> {CLASSES[int(p > 0.5)]}"


if __name__ == "__main__":
    run(main)
