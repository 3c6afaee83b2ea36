"""`.tflite` -> C sources: the model as an aligned byte array, and its I/O as C constants.

No TensorFlow: the model is read with `toolchain.model`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from toolchain import api_module
from toolchain.errors import InputError
from toolchain.escape import c_ident, environment, is_c_ident
from toolchain.files import staged_dir
from toolchain.model import Tensor, load_model
from toolchain.validate import check_model

TEMPLATES = Path(__file__).parent / "templates" / "export"
BYTES_PER_LINE = 12
_C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float"}
_SECTION = re.compile(r"[.A-Za-z_][.A-Za-z0-9_]*")


@dataclass
class ExportResult:
    name: str
    crc32: int
    size: int
    files: list[Path]


def export(tflite, out_dir, *, name: str | None = None, section: str | None = None) -> ExportResult:
    """Write NAME_model_data.h/.cc and NAME_model_io.h for `tflite` into `out_dir`.

    Args:
        tflite: path of the .tflite file.
        name: C identifier prefix (default: the file name, made a valid identifier).
        section: linker section for the array, e.g. ".rodata.model" (default: none).

    Raises:
        ModelError: missing, corrupt or non-TFLite file. InputError: bad name or section.
    """
    model = check_model(load_model(tflite))
    if name is None:
        name = c_ident(Path(tflite).stem)
    elif not is_c_ident(name):
        raise InputError(f"name {name!r} is not a C identifier", "use letters, digits and '_', not starting with a digit")
    if section is not None and not _SECTION.fullmatch(section):
        raise InputError(f"section {section!r} is not a linker section name", "use e.g. .rodata.model")
    raw = model.raw
    values = {
        "name": name, "guard": name.upper(), "source": Path(tflite).name, "section": section,
        "size": len(raw), "crc32": model.crc32,
        "lines": [", ".join(f"0x{b:02x}" for b in raw[i:i + BYTES_PER_LINE]) + ","
                  for i in range(0, len(raw), BYTES_PER_LINE)],
        "inputs": [_io(t) for t in model.main.input_tensors()],
        "outputs": [_io(t) for t in model.main.output_tensors()],
    }
    env = environment(jinja2.FileSystemLoader(TEMPLATES), trim_blocks=True, lstrip_blocks=True)
    out_dir = Path(out_dir)
    outputs = {f"{name}_model_data.h": "model_data.h.j2", f"{name}_model_data.cc": "model_data.cc.j2",
               f"{name}_model_io.h": "model_io.h.j2"}
    with staged_dir(out_dir) as stage:
        for filename, template in outputs.items():
            (stage / filename).write_text(env.get_template(template).render(values))
    return ExportResult(name, model.crc32, len(raw), [out_dir / f for f in outputs])


def _io(t: Tensor) -> dict:
    if t.dtype not in _C_TYPES:
        raise InputError(f"model tensor {t.name} has type {t.dtype}, which firmware I/O does not handle",
                         "convert the model with int8 or float32 inputs and outputs")
    q = t.quantization if t.dtype != "float32" else None
    return {"name": t.name, "shape": list(t.shape) or [1], "elements": t.size, "bytes": t.nbytes, "dtype": t.dtype,
            "ctype": _C_TYPES[t.dtype], "scale": f"{q.scale[0]!r}f" if q else "0.0f",
            "zero_point": q.zero_point[0] if q else 0}


api_module(__name__)
