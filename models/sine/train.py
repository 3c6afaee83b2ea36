"""The TinyML "hello world": a Dense 16-16-1 regressor of y = sin(x) on [0, 2pi], with noise.

    python models/sine/train.py OUT_DIR [--epochs N] [--seed S]

Writes OUT_DIR/sine.keras, calib.npy (calibration inputs, shape (N, 1)) and
eval_x.npy / eval_y.npy (held-out inputs and their noiseless sin). Deterministic
for a given seed; trains in a few seconds on a laptop core.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

SAMPLES = 1000
CALIB = 200
NOISE = 0.1
PASSES_PER_FIT_EPOCH = 25  # Keras pays a fixed cost per epoch: feed it 25 passes over the data at a time


def data(seed: int = 0):
    """Noisy training pairs and noiseless held-out pairs, x of shape (n, 1) float32."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2 * np.pi, (SAMPLES, 1)).astype(np.float32)
    y = (np.sin(x) + NOISE * rng.standard_normal(x.shape)).astype(np.float32)
    x_eval = np.linspace(0, 2 * np.pi, 100, dtype=np.float32).reshape(-1, 1)
    return x, y, x_eval, np.sin(x_eval).astype(np.float32)


def train(out_dir, epochs: int = 500, seed: int = 0) -> dict:
    """Train for `epochs` passes over the data (rounded up to a multiple of 25), save the model and data files into `out_dir`; returns their paths and the final losses."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(seed)
    x, y, x_eval, y_eval = data(seed)
    model = keras.Sequential([
        keras.Input((1,), name="x"),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1),
    ], name="sine")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    reps = min(PASSES_PER_FIT_EPOCH, epochs)
    history = model.fit(np.tile(x, (reps, 1)), np.tile(y, (reps, 1)), epochs=-(-epochs // reps), batch_size=250,
                        shuffle=True, verbose=0)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"model": out / "sine.keras", "calib": out / "calib.npy", "eval_x": out / "eval_x.npy",
             "eval_y": out / "eval_y.npy"}
    model.save(paths["model"])
    np.save(paths["calib"], x[:CALIB])
    np.save(paths["eval_x"], x_eval)
    np.save(paths["eval_y"], y_eval)
    eval_mse = float(np.mean((model.predict(x_eval, verbose=0) - y_eval) ** 2))
    return {**paths, "train_loss": float(history.history["loss"][-1]), "eval_mse": eval_mse}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = train(args.out_dir, args.epochs, args.seed)
    print(f"train loss {result['train_loss']:.4f}, eval MSE vs sin {result['eval_mse']:.4f}; wrote {result['model']}")


if __name__ == "__main__":
    main()
