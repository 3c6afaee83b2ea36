"""A small CNN for scikit-learn's bundled 8x8 handwritten digits (no download).

Deterministic: the split, the weight initialisation and the training order all
derive from one seed, and TensorFlow runs with op determinism on, so two runs
with the same seed and epochs write the same weights.

    python models/digits/train.py out/digits --epochs 30
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SEED = 1234
INPUT_SHAPE = (8, 8, 1)
NUM_CLASSES = 10
CALIB_SAMPLES = 200


def load_data(seed: int = SEED):
    """The digits split 80/20 (stratified): `(x_train, y_train), (x_test, y_test)`.

    Images are float32 in [0, 1], shaped (N, 8, 8, 1); labels are int64 class ids.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return (x_train, y_train), (x_test, y_test)


def build_model():
    import keras

    return keras.Sequential([
        keras.Input(INPUT_SHAPE, name="image"),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(32, activation="relu", name="fc1"),
        keras.layers.Dense(NUM_CLASSES, activation="softmax", name="probs"),
    ], name="digits_cnn")


def train(out_dir, epochs: int = 30, seed: int = SEED) -> Path:
    """Train, then write `digits.keras`, `calib.npy` (training images) and `test.npz` into `out_dir`.

    Returns the path of `digits.keras`.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    (x_train, y_train), (x_test, y_test) = load_data(seed)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, shuffle=True, verbose=0)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "digits.keras"
    model.save(path)
    np.save(out / "calib.npy", x_train[:CALIB_SAMPLES])
    np.savez(out / "test.npz", x=x_test, y=y_test)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="out/digits")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    path = train(args.out_dir, epochs=args.epochs, seed=args.seed)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
