"""The TFLM tree as a PlatformIO project library (lib/tflm), so a board runs the TFLM the
QEMU and host builds and the Python oracle run.

The library holds the sources the model links (project.tflm_sources) and every header of the
tree; it is compiled like the generated Makefile compiles it: the same defines and include
paths (given to the whole project, so the engine adapter sees the same TFLM types), C++17.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

LIB_DIR = "lib/tflm"
DEFINES = ["-DTF_LITE_STATIC_MEMORY", "-DNDEBUG"]
CMSIS_NN_DEFINES = ["-DCMSIS_NN", "-DARM_NN_ENABLE_F16=0", "-DARM_NN_ENABLE_F32=0"]
INCLUDES = [".", "third_party/flatbuffers/include", "third_party/gemmlowp", "third_party/ruy", "third_party/kissfft"]
CMSIS_NN_INCLUDES = ["third_party/cmsis", "third_party/cmsis_nn", "third_party/cmsis/CMSIS/Core/Include",
                     "third_party/cmsis_nn/Include"]
HEADERS = (".h", ".hpp", ".inc")
# TFLM needs C++17; the Arduino cores ask for older standards (ArduinoCore-mbed: gnu++14)
CXX_STD, OLD_CXX_STDS = "-std=gnu++17", ["-std=gnu++11", "-std=gnu++14"]


def is_cmsis_nn(tree) -> bool:
    return (Path(tree) / "third_party" / "cmsis_nn").is_dir()


def build_flags(tree) -> list[str]:
    """The defines and include paths (relative to the project) of a project on `tree`'s library."""
    cmsis = is_cmsis_nn(tree)
    includes = INCLUDES + (CMSIS_NN_INCLUDES if cmsis else [])
    return DEFINES + (CMSIS_NN_DEFINES if cmsis else []) + [f"-I{LIB_DIR}" + (f"/{d}" if d != "." else "") for d in includes]


def write_library(tree, sources: list[str], project_dir: Path) -> None:
    """Copy `sources` (relative to `tree`), the tree's headers and licenses into project_dir/lib/tflm."""
    tree, dst = Path(tree), Path(project_dir) / LIB_DIR
    wanted = set(sources) | {str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file()
                             and (p.suffix in HEADERS or p.name in ("LICENSE", "COPYING"))}
    for rel in sorted(wanted):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tree / rel, dst / rel)
    manifest = {
        "name": "tflm",
        "version": "0.0.0",
        "description": f"TensorFlow Lite Micro: the sources this model links, from {tree.name}"
                       f"{' (CMSIS-NN kernels)' if is_cmsis_nn(tree) else ''}; copied by tinyship generate",
        "license": "Apache-2.0",
        "frameworks": "*",
        "platforms": "*",
        # every source here is wanted (no srcFilter); LDF off: TFLM's own includes need no other library
        "build": {"srcDir": ".", "includeDir": ".", "libLDFMode": "off"},
    }
    (dst / "library.json").write_text(json.dumps(manifest, indent=2) + "\n")
