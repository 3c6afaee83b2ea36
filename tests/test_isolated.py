"""toolchain.isolated: a native crash or hang of the host interpreter ends the child, never tinyship."""

import pytest

from toolchain import isolated
from toolchain.errors import ModelError
from toolchain.reference import isolated as reference, tflm_run


def test_a_crash_in_the_child_is_a_model_error_naming_the_model():
    with pytest.raises(ModelError, match=r"the TFLM interpreter crashed on model 'evil' \(SIGABRT\)") as e:
        isolated.call("os:abort", model_name="evil", timeout=30)
    assert e.value.exit_code == 2


def test_a_hang_in_the_child_ends_at_the_deadline():
    import time

    t0 = time.monotonic()
    with pytest.raises(ModelError, match=r"did not finish within 1 s on model 'slow'"):
        isolated.call("time:sleep", 60, model_name="slow", timeout=1)
    assert time.monotonic() - t0 < 10


def test_errors_of_the_child_come_back_with_their_fix(make_tflite):
    with pytest.raises(ModelError, match="not a TFLite flatbuffer.*; give a .tflite file"):
        reference("tflm_run", b"not a model at all", [])


def test_isolated_reference_equals_in_process(shared_data):
    import numpy as np

    model = shared_data / "tflm" / "hello_world_int8.tflite"
    samples = [[np.array([[v]], dtype=np.int8)] for v in (-128, 0, 42)]
    got, want = reference("tflm_run", model, samples), tflm_run(model, samples)
    assert [o[0].tobytes() for o in got] == [o[0].tobytes() for o in want]


def test_leaving_a_started_block_early_stops_the_child():
    """generate checks the model with TFLM while it writes; when writing fails first, the child
    is killed and waited for (the block would last 60 s otherwise)."""
    import time

    t0 = time.monotonic()
    with pytest.raises(KeyError):
        with isolated.started("time:sleep", 60, model_name="m", timeout=120):
            raise KeyError("writing failed")
    assert time.monotonic() - t0 < 10
