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


def test_a_warmed_child_imports_first_and_runs_its_job_later():
    """convert's converter child imports TensorFlow while the parent loads the model: the module
    is imported before the job exists, a crash of the job is the caller's error with its fix, and
    a child that never gets a job is stopped when the block ends."""
    import time

    from toolchain.errors import ConvertError

    with pytest.raises(ConvertError, match=r"the converter crashed on model 'm' \(SIGABRT\); try another"):
        with isolated.warmed("os", model_name="m", timeout=30, what="the converter", error=ConvertError,
                             fix="try another") as run:
            time.sleep(0.2)
            run("abort")
    with isolated.warmed("math", model_name="m", timeout=30, what="math") as run:
        assert run("factorial", 5) == 120
    t0 = time.monotonic()
    with isolated.warmed("math", model_name="m", timeout=30, what="math"):
        pass
    assert time.monotonic() - t0 < 5


def test_progress_of_the_child_reaches_the_parent(shared_data):
    import numpy as np

    seen = []
    samples = [[np.array([[v]], dtype=np.int8)] for v in range(-3, 3)]
    outs = reference("tflm_run", shared_data / "tflm" / "hello_world_int8.tflite", samples, progress=seen.append)
    assert len(outs) == 6 and seen and seen == sorted(seen) and seen[-1] == 6
