"""tinyship convert: clean fully-int8 graphs from small Keras models, legacy .h5, the quant report, errors."""

import json
import tempfile

import numpy as np
import pytest

from conftest import SHARED_DATA as SHARED
from toolchain.cli import main
from toolchain.convert.check import DYNAMIC_SHAPE_OPS
from toolchain.model import load_model
from toolchain.reference import tflm_run

AD_BIN = f"{SHARED}/mlperf_tiny/normal_id_01_00000000_hist_librosa.bin"


def run_cli(*argv):
    """Run the CLI in-process; returns the exit code."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    return e.value.code


def assert_clean_int8(path):
    """Every tensor an op computes is int8 (int32 only for biases), and no run-time shape ops."""
    m = load_model(path)
    ops = m.op_names()
    assert not set(ops) & set(DYNAMIC_SHAPE_OPS), ops
    for op in m.main.operators:
        for i in op.inputs + op.outputs:
            if i >= 0:
                t = m.main.tensors[i]
                assert t.dtype == "int8" or (t.dtype == "int32" and t.is_constant), (op.op, t.name, t.dtype)
    return m


def _zoo(name):
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(1)
    if name == "mlp":
        return keras.Sequential([keras.Input((10,)), L.Dense(16, activation="relu"), L.Dense(8, activation="relu"),
                                 L.Dense(3)])
    if name == "conv_pool_flatten":
        return keras.Sequential([keras.Input((12, 12, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(),
                                 L.Flatten(), L.Dense(4, activation="softmax")])
    if name == "depthwise_separable_gap":
        return keras.Sequential([keras.Input((10, 10, 3)), L.DepthwiseConv2D(3, padding="same", activation="relu"),
                                 L.SeparableConv2D(8, 3, activation="relu"), L.GlobalAveragePooling2D(),
                                 L.Dense(2, activation="softmax")])
    if name == "dilated":
        return keras.Sequential([keras.Input((16, 16, 2)), L.Conv2D(4, 3, dilation_rate=2, padding="same"),
                                 L.Conv2D(4, 3, dilation_rate=(2, 1)), L.Flatten(), L.Dense(2)])
    if name == "bn_relu6":
        return keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(6, 3, use_bias=False), L.BatchNormalization(),
                                 L.ReLU(6.0), L.Flatten(), L.Dense(3)])
    raise ValueError(name)


# name -> ops the converted graph must consist of (in any order)
EXPECTED_OPS = {
    "mlp": {"FULLY_CONNECTED"},
    "conv_pool_flatten": {"CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"},
    "depthwise_separable_gap": {"DEPTHWISE_CONV_2D", "CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"},
    "dilated": {"CONV_2D", "RESHAPE", "FULLY_CONNECTED"},
    "bn_relu6": {"CONV_2D", "RESHAPE", "FULLY_CONNECTED"},
}


def _calib(model, n=32, seed=0):
    return np.random.default_rng(seed).standard_normal((n, *model.input_shape[1:])).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED_OPS))
def test_small_keras_models_convert_to_clean_int8(name, convert_keras):
    model = _zoo(name)
    path = convert_keras(model, _calib(model))
    m = assert_clean_int8(path)
    assert set(m.op_names()) == EXPECTED_OPS[name]
    report = json.loads(path.with_name("model_quant_report.json").read_text())
    assert report["metrics"][0]["cosine"] > 0.98, report["metrics"]
    if name == "dilated":
        convs = [op for op in m.main.operators if op.op == "CONV_2D"]
        assert [(c.options["dilation_h_factor"], c.options["dilation_w_factor"]) for c in convs] == [(2, 2), (2, 1)]
    if name == "bn_relu6":  # BatchNorm folded into the conv, ReLU6 fused as its activation
        assert [op.activation for op in m.main.operators if op.op == "CONV_2D"] == ["RELU6"]
    assert ("top1_agreement" in report["metrics"][0]) == ("SOFTMAX" in EXPECTED_OPS[name])


@pytest.fixture(scope="module")
def ad_samples(tmp_path_factory):
    x = np.fromfile(AD_BIN, dtype="<f4").reshape(40, 640)
    path = tmp_path_factory.mktemp("ad") / "calib.npy"
    np.save(path, x)
    return path, x


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
def test_ad01_legacy_h5_int8_in_tflm_agrees_with_keras(ad_samples, tmp_path, capsys):
    import keras

    calib_path, x = ad_samples
    assert run_cli("convert", f"{SHARED}/mlperf_tiny/ad01.h5", "--calib", calib_path, "-o", tmp_path / "ad") == 0
    assert "wrote" in capsys.readouterr().out
    m = assert_clean_int8(tmp_path / "ad" / "ad01.tflite")
    assert (tmp_path / "ad" / "ad01_float.tflite").stat().st_size > 3 * m.size
    inp, out = m.main.input_tensors()[0], m.main.output_tensors()[0]
    (si,), (zi,) = inp.quantization.scale, inp.quantization.zero_point
    (so,), (zo,) = out.quantization.scale, out.quantization.zero_point
    q = np.clip(np.round(x / si) + zi, -128, 127).astype(np.int8)
    y8 = np.stack([o[0] for o in tflm_run(m, [[s.reshape(1, 640)] for s in q])]).reshape(40, 640)
    y8 = (y8.astype(np.float64) - zo) * so
    ref = keras.models.load_model(f"{SHARED}/mlperf_tiny/ad01.h5", compile=False).predict(x, verbose=0)
    cos = np.sum(ref * y8) / (np.linalg.norm(ref) * np.linalg.norm(y8))
    assert cos >= 0.99
    report = json.loads((tmp_path / "ad" / "ad01_quant_report.json").read_text())
    assert report["metrics"][0]["cosine"] == pytest.approx(cos, abs=1e-3)
    assert report["evaluation"]["samples"] == 40 and "top1_agreement" not in report["metrics"][0]


@pytest.mark.slow
def test_float_io_keeps_quantize_dequantize_edges(convert_keras):
    model = _zoo("mlp")
    m = load_model(convert_keras(model, _calib(model), io="float"))
    sg = m.main
    assert sg.input_tensors()[0].dtype == sg.output_tensors()[0].dtype == "float32"
    assert sg.operators[0].op == "QUANTIZE" and sg.operators[-1].op == "DEQUANTIZE"
    assert {op.op for op in sg.operators[1:-1]} == {"FULLY_CONNECTED"}


@pytest.mark.slow
def test_labels_give_accuracy_and_json_output(tmp_path, capsys):
    import keras

    model = _zoo("conv_pool_flatten")
    x = _calib(model, 24)
    labels = model.predict(x, verbose=0).argmax(-1)  # the float model is right by construction
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels.astype(np.int64))
    model.save(tmp_path / "m.keras")
    keras.backend.clear_session()
    code = run_cli("convert", tmp_path / "m.keras", "--calib", tmp_path / "x.npy", "--eval", tmp_path / "x.npy",
                   "--labels", tmp_path / "y.npy", "--name", "cls", "-o", tmp_path / "out", "--json")
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    metric = report["metrics"][0]
    assert metric["float_accuracy"] == 1.0
    assert metric["int8_accuracy"] == metric["top1_agreement"] > 0.8
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cls.tflite", "cls_float.tflite",
                                                                      "cls_quant_report.json"]


@pytest.mark.slow
def test_saved_model_folder_with_dynamic_batch(tmp_path):
    import tensorflow as tf

    from toolchain.convert import convert

    model = _zoo("conv_pool_flatten")
    model.export(str(tmp_path / "my sm"), verbose=False,
                 input_signature=[tf.TensorSpec((None, 12, 12, 1), tf.float32, name="image")])
    result = convert(tmp_path / "my sm", tmp_path / "out", calib=_calib(model, 8))
    assert result.tflite_path.name == "my_sm.tflite" and result.report["loader"] == "saved_model"
    assert "RESHAPE" in assert_clean_int8(result.tflite_path).op_names()


@pytest.mark.slow
def test_float_ops_fail_with_layer_names_unless_allowed(tmp_path):
    import keras

    from toolchain.convert import convert
    from toolchain.errors import ConvertError

    keras.utils.set_random_seed(2)
    inp = keras.Input((4,))
    h = keras.layers.Lambda(lambda t: keras.ops.sin(t), name="wave")(keras.layers.Dense(4, name="pre")(inp))
    model = keras.Model(inp, keras.layers.Dense(2, name="post")(h))
    calib = _calib(model, 8)
    with pytest.raises(ConvertError, match="SIN.*wave") as e:
        convert(model, tmp_path / "out", calib=calib)
    assert e.value.exit_code == 3 and not (tmp_path / "out").exists()
    result = convert(model, tmp_path / "out", calib=calib, allow_float_ops=True)
    assert [o["op"] for o in result.report["float_ops"]] == ["SIN"]
    assert any("float" in w for w in result.report["warnings"])


@pytest.mark.slow
def test_a_crash_of_the_converter_is_one_line(tmp_path, capsys, monkeypatch):
    """TensorFlow's calibrator dies of SIGSEGV on a Keras LSTM (measured with the pinned TF: every run;
    `tinyship convert` exited 139 without a word). The converter runs in a child process: exit 3, one
    line naming the model and a fix, nothing written, no temporary folder of ours left."""
    import keras

    keras.utils.set_random_seed(0)
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).standard_normal((16, 20, 4)).astype(np.float32))
    keras.Sequential([keras.Input((20, 4)), keras.layers.LSTM(8), keras.layers.Dense(2)]).save(tmp_path / "lstm.keras")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    err = _fails(capsys, tmp_path / "o", tmp_path / "lstm.keras", "--calib", tmp_path / "calib.npy", code=3)
    assert err == ("tinyship: error: the TFLite converter crashed on model 'lstm' (SIGSEGV); a TensorFlow bug "
                   "triggered by one of the model's layers: replace unusual layers (an LSTM or GRU: try unroll=True) "
                   "and convert again\n")
    assert [p.name for p in (tmp_path / "tmp").iterdir() if p.name.startswith("tinyship-")] == []


@pytest.mark.slow
def test_ops_tflm_lacks_are_refused_with_their_layer(tmp_path, capsys):
    """Keras 3's UpSampling2D converts to RESHAPE + TILE, and TFLM has no TILE (its evaluation said only
    'TFLM failed to allocate tensors'). Convert names the op and the layer; the Resizing layer the
    message suggests converts to RESIZE_NEAREST_NEIGHBOR, which TFLM runs."""
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(0)
    np.save(tmp_path / "calib.npy", np.random.default_rng(0).standard_normal((16, 16, 16, 1)).astype(np.float32))
    for name, up in (("up", L.UpSampling2D(2)), ("resize", L.Resizing(16, 16, interpolation="nearest"))):
        keras.Sequential([keras.Input((16, 16, 1)), L.Conv2D(4, 3, strides=2, padding="same"), up,
                          L.Conv2D(1, 3, padding="same")]).save(tmp_path / f"{name}.keras")
    err = _fails(capsys, tmp_path / "o", tmp_path / "up.keras", "--calib", tmp_path / "calib.npy", code=3)
    assert err.startswith("tinyship: error: TFLM has no kernel for TILE (layer up_sampling2d); replace those "
                          "layers (an UpSampling2D by Resizing(h, w, interpolation='nearest'))"), err
    assert run_cli("convert", tmp_path / "resize.keras", "--calib", tmp_path / "calib.npy", "-o", tmp_path / "r") == 0
    assert "RESIZE_NEAREST_NEIGHBOR" in assert_clean_int8(tmp_path / "r" / "resize.tflite").op_names()


@pytest.mark.slow
def test_random_calibration_is_flagged(tmp_path):
    from toolchain.convert import convert

    result = convert(_zoo("mlp"), tmp_path, calib="random")
    assert result.report["calibration"]["random"] is True
    assert any("random" in w for w in result.report["warnings"])


# ---- errors: one line, exit 2, nothing written ------------------------------------------

def _fails(capsys, out, *argv, code=2):
    assert run_cli("convert", *argv, "-o", out) == code
    err = capsys.readouterr().err
    assert err.startswith("tinyship: error:") and err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists() or not any(out.iterdir())
    return err


def test_missing_model_and_missing_calib(tmp_path, capsys):
    assert "not found" in _fails(capsys, tmp_path / "o", tmp_path / "nope.h5", "--calib", "random")
    assert "not found" in _fails(capsys, tmp_path / "o", tmp_path / "nope.h5")  # the missing file is named first
    (tmp_path / "m.keras").write_bytes(b"x")
    assert "--calib random" in _fails(capsys, tmp_path / "o", tmp_path / "m.keras")


@pytest.mark.usefixtures("shared_data")
def test_not_a_model(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert "not a Keras model" in _fails(capsys, tmp_path / "o", tmp_path / "notes.txt", "--calib", "random")
    assert "already a .tflite" in _fails(capsys, tmp_path / "o", f"{SHARED}/tflm/hello_world_int8.tflite",
                                         "--calib", "random")


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_corrupt_keras_files(tmp_path, capsys, suffix):
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    assert "not a loadable Keras model" in _fails(capsys, tmp_path / "o", bad, "--calib", "random")


@pytest.mark.usefixtures("shared_data")
@pytest.mark.slow
def test_calibration_shape_and_dtype_mismatch(tmp_path, capsys, ad_samples):
    ad = f"{SHARED}/mlperf_tiny/ad01.h5"
    np.save(tmp_path / "wide.npy", np.zeros((4, 641), np.float32))
    assert "(4, 641)" in _fails(capsys, tmp_path / "o", ad, "--calib", tmp_path / "wide.npy")
    np.save(tmp_path / "ints.npy", np.zeros((4, 640), np.int32))
    assert "dtype int32" in _fails(capsys, tmp_path / "o", ad, "--calib", tmp_path / "ints.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    assert "cannot read" in _fails(capsys, tmp_path / "o", ad, "--calib", tmp_path / "junk.npy")
    np.savez(tmp_path / "c.npz", a=np.zeros((2, 640), np.float32))
    assert "no array 'b'" in _fails(capsys, tmp_path / "o", ad, "--calib", tmp_path / "c.npz", "--calib-key", "b")


@pytest.mark.slow
def test_legacy_h5_keras3_cannot_read_falls_back_to_tf_keras(tmp_path):
    import tensorflow as tf
    import tf_keras

    from toolchain.convert import convert

    tf_keras.utils.set_random_seed(3)
    inp = tf_keras.Input((6,))
    hidden = tf.nn.relu(tf_keras.layers.Dense(8)(inp))  # stored as a TFOpLambda layer, unknown to Keras 3
    tf_keras.Model(inp, tf_keras.layers.Dense(3, activation="softmax")(hidden)).save(tmp_path / "old.h5")
    result = convert(tmp_path / "old.h5", tmp_path / "out", calib=np.random.default_rng(0).random((16, 6), np.float32))
    assert result.report["loader"] == "tf_keras"
    assert len(result.notes) == 1 and "tf-keras" in result.notes[0] and "\n" not in result.notes[0]
    assert set(assert_clean_int8(result.tflite_path).op_names()) == {"FULLY_CONNECTED", "SOFTMAX"}
    assert result.report["metrics"][0]["cosine"] > 0.99


@pytest.mark.slow
def test_sine_training_script_is_deterministic_and_converts(tmp_path):
    from models.sine.train import train
    from toolchain.convert import convert

    files = train(tmp_path / "a", epochs=50)
    again = train(tmp_path / "b", epochs=50)
    assert files["train_loss"] == again["train_loss"] and np.array_equal(np.load(files["calib"]),
                                                                         np.load(again["calib"]))
    assert files["eval_mse"] < 0.1  # far better than predicting 0 (MSE 0.5)
    result = convert(files["model"], tmp_path / "out", calib=files["calib"], eval_data=files["eval_x"])
    assert result.tflite_path.name == "sine.tflite"
    assert set(assert_clean_int8(result.tflite_path).op_names()) == {"FULLY_CONNECTED"}
    assert result.report["metrics"][0]["cosine"] > 0.99


@pytest.mark.slow
def test_two_inputs_two_outputs_matched_by_name(tmp_path):
    import keras

    from toolchain.convert import convert

    keras.utils.set_random_seed(4)
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    h = keras.layers.Concatenate()([keras.layers.Dense(6)(a), keras.layers.Dense(6, activation="relu")(b)])
    model = keras.Model([a, b], [keras.layers.Dense(2)(h), keras.layers.Dense(3, activation="softmax")(h)])
    rng = np.random.default_rng(0)
    calib = [[rng.standard_normal(4).astype(np.float32), 5 * rng.random(4).astype(np.float32)] for _ in range(16)]
    result = convert(model, tmp_path, calib=calib)
    assert_clean_int8(result.tflite_path)
    assert len(result.report["inputs"]) == 2 and len(result.report["metrics"]) == 2
    assert min(m["cosine"] for m in result.report["metrics"]) > 0.99  # swapped inputs would not agree
