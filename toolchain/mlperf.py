"""MLPerf Tiny names: the model name the benchmark runner (mlcommons/tiny benchmark/runner)
reads from `profile` (`m-model-[...]`) and uses to pick its test script and data set."""

from __future__ import annotations

import re

from toolchain.errors import InputError

MLPERF_NAMES = ("kws01", "vww01", "ic01", "ad01")
# the reference models of the four benchmarks, by file stem (lower case, precision suffix removed)
_REFERENCE_MODELS = {"kws_ref_model": "kws01", "ad01": "ad01", "vww_96": "vww01", "pretrainedresnet": "ic01",
                     "resnet": "ic01"}


def mlperf_name(model_name: str, given: str | None = None) -> str | None:
    """The MLPerf Tiny name of a model: `given` (checked), else that of a known reference model, else None."""
    if given is not None:
        if given not in MLPERF_NAMES:
            raise InputError(f"unknown MLPerf Tiny model name '{given}'", f"use one of: {', '.join(MLPERF_NAMES)}")
        return given
    stem = re.sub(r"_(int8|quant|quantized|float32|float)$", "", model_name.lower())
    return _REFERENCE_MODELS.get(stem)
