"""Lab 03, keyword spotting: read what a model costs before it reaches a board.

Analyzes MLPerf Tiny's KWS model (DS-CNN, 12 classes) and TFLM's micro_speech model
(yes/no): MACs per layer, the arena plan and its timeline, the op resolver TFLM needs,
which boards of the catalog fit, then profiles both layer by layer on the board and
compares the memory of the two engines (tflm vs our aot).

    python labs/03_keyword_spotting/lab.py [--board ID] [--quick] [--out DIR] [--tflm-dir DIR]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from labs.common import plots  # noqa: E402
from toolchain.zoo import data_file  # noqa: E402
from labs.common.device import profile_rows, run_on_device  # noqa: E402
from labs.common.fit import survey  # noqa: E402
from labs.common.lab import Lab, run  # noqa: E402

MODELS = {"kws": "mlperf_tiny/kws_ref_model.tflite", "micro_speech": "tflm/micro_speech_quantized.tflite"}


def options(parser):
    parser.add_argument("--tflm-dir", type=Path, metavar="DIR",
                        help="a TensorFlow Lite Micro source tree: also build and measure the tflm engine")


def main(argv=None):
    lab = Lab("03_keyword_spotting", __doc__, argv, options)
    from toolchain import analyze
    from toolchain.analyze.resolver import emit_resolver, resolver_ops

    paths = {name: data_file(f) for name, f in MODELS.items()}
    analyses = {}
    with lab.step("Analyze both models (toolchain.analyze, no TensorFlow): layers, MACs, parameters"):
        for name, path in paths.items():
            analyses[name] = {"tflm": analyze(path, engine="tflm"), "aot": analyze(path, engine="aot")}
        lab.table("Models", ["model", "layers", "MACs", "parameters", "weights", "ops"], [
            [name, len(a["tflm"].layers), f"{a['tflm'].macs:,}", f"{a['tflm'].params:,}",
             f"{a['tflm'].weights_bytes:,} B", ", ".join(sorted(set(a["tflm"].model.op_names())))]
            for name, a in analyses.items()])
        kws = analyses["kws"]["tflm"]
        lab.table("KWS layers", ["#", "op", "output", "MACs", "share"], [
            [layer.index, layer.op, "x".join(map(str, layer.output_shape)), f"{layer.macs:,}",
             f"{layer.macs / kws.macs:.0%}"] for layer in kws.layers])

    with lab.step("Arena plan: which activations live at once, where TFLM's greedy planner puts them"):
        for name, a in analyses.items():
            d = a["tflm"].to_dict()["arena"]
            peak = d["peak_layer"]
            lab.say(f"{name}: {len(d['buffers'])} buffers planned into {d['head']:,} B (peak at layer {peak}, "
                    f"{a['tflm'].layers[peak].op}); TFLM adds a {d['tail_32']['bytes']:,} B tail of interpreter "
                    f"state = {d['total_32']:,} B on a Cortex-M")
            lab.figure(plots.arena_timeline(d["buffers"], d["head"], f"{name}: arena plan (blue: activations, "
                                            "orange: scratch)"), f"arena_{name}")

    with lab.step("Op resolver: the kernels TFLM must register (a MicroMutableOpResolver header)"):
        for name, a in analyses.items():
            header = emit_resolver(a["tflm"].model, lab.out / f"{name}_resolver.h")
            methods = [f"{method}()" for _, method in resolver_ops(a["tflm"].model)]
            lab.say(f"{header}: MicroMutableOpResolver<{len(methods)}> with " + ", ".join(methods))

    fits = {}
    with lab.step("Which boards of the catalog can hold the KWS model?"):
        fits["kws"] = survey(lab, paths["kws"], "kws_ref_model")

    devices = {}
    for name, path in paths.items():
        with lab.step(f"Profile {name} layer by layer on {lab.args.board} (aot engine, seeded random inputs)"):
            devices[name] = run_on_device(lab, path, random=2 if lab.args.quick else 10)
            _layer_table(lab, name, devices[name], analyses[name]["tflm"])
        if lab.args.tflm_dir:
            with lab.step(f"Profile {name} with the tflm engine (TFLM tree {lab.args.tflm_dir})"):
                devices[f"{name}_tflm"] = run_on_device(lab, path, random=2, engine="tflm", tflm_dir=lab.args.tflm_dir)

    with lab.step("Memory: tflm vs aot engine"):
        memory = _memory(lab, analyses, devices)

    lab.table(f"KWS profile on {lab.args.board}", ["figure", "value"], profile_rows(devices["kws"]))
    lab.finish({
        "analysis": {name: a["tflm"].to_dict() | {"aot_arena": a["aot"].plan.head} for name, a in analyses.items()},
        "fit": fits,
        "memory": memory,
        "devices": devices,
    })


def _layer_table(lab, name, device, analysis):
    layers, unit = device["layers"], device["latency"]["cycles_are"]
    macs = {layer.index: layer.macs for layer in analysis.layers}
    lab.table(f"{name}: per-layer profile", ["layer", unit, "share", "MACs", f"MACs per 100 {unit}"], [
        [f"{r['i']} {r['name']}", f"{r['cycles']:,.0f}", f"{r['share']:.0%}", f"{macs.get(r['i'], 0):,}",
         f"{100 * macs.get(r['i'], 0) / r['cycles']:.1f}" if r["cycles"] else "-"] for r in layers])
    lab.figure(plots.bars([f"{r['i']} {r['name']}" for r in layers], [r["cycles"] for r in layers],
                          xlabel=unit, title=f"{name}: {unit} per layer on {lab.args.board}"), f"layers_{name}")


def _memory(lab, analyses, devices) -> dict:
    """Arena and firmware size per model and engine: measured where a firmware ran, else the analyzer's figure."""
    memory, rows = {}, []
    for name, a in analyses.items():
        aot = devices[name]
        tflm = devices.get(f"{name}_tflm")
        memory[name] = {
            "aot": {"arena": aot["memory"]["arena_used"], "flash": aot["memory"]["static"]["flash"]["total"],
                    "ram": aot["memory"]["static"]["ram"]["total"], "source": "measured on the device"},
            "tflm": ({"arena": tflm["memory"]["arena_used"], "flash": tflm["memory"]["static"]["flash"]["total"],
                      "ram": tflm["memory"]["static"]["ram"]["total"], "source": "measured on the device"} if tflm
                     else {"arena": a["tflm"].arena_32, "flash": None, "ram": None,
                           "source": "analyzer (no TFLM tree, see --tflm-dir)"}),
        }
        for engine in ("tflm", "aot"):
            m = memory[name][engine]
            rows.append([name, engine, f"{m['arena']:,}", f"{m['flash']:,}" if m["flash"] else "-",
                         f"{m['ram']:,}" if m["ram"] else "-", m["source"]])
    lab.table("Memory by engine (bytes)", ["model", "engine", "arena", "firmware flash", "firmware RAM", "source"], rows)
    if not lab.args.tflm_dir:
        lab.say("The tflm firmware needs TensorFlow Lite Micro's sources, which are not available offline: its arena "
                "is the analyzer's plan (head + 32-bit tail, exact against TFLM).")
    lab.figure(plots.grouped_bars(list(analyses), {f"{e} arena": [memory[n][e]["arena"] for n in analyses]
                                                   for e in ("tflm", "aot")},
                                  ylabel="bytes", title="arena by engine"), "memory_by_engine")
    return memory


if __name__ == "__main__":
    run(main)
