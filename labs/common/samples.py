"""Readers for the shared samples: 8-bit grayscale BMP images and the AD spectrogram windows."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

AD_WINDOW = 640


def read_bmp(path) -> np.ndarray:
    """Decode an uncompressed 8-bit palettized BMP into a (height, width) uint8 grey image.

    The palette is applied (as luminance), rows are flipped when stored bottom-up and the
    4-byte row padding is dropped. Only what the person_detection samples use is supported.
    """
    raw = Path(path).read_bytes()
    if raw[:2] != b"BM" or len(raw) < 54:
        raise ValueError(f"{path}: not a BMP file")
    offset = struct.unpack_from("<I", raw, 10)[0]
    header_size, width, height, planes, bpp, compression = struct.unpack_from("<IiiHHI", raw, 14)
    if bpp != 8 or compression != 0:
        raise ValueError(f"{path}: {bpp}-bit BMP with compression {compression}; only uncompressed 8-bit is supported")
    colours = struct.unpack_from("<I", raw, 46)[0] or 256
    palette = np.frombuffer(raw, np.uint8, colours * 4, 14 + header_size).reshape(colours, 4)  # B, G, R, 0
    grey = np.round(palette[:, 2] * 0.299 + palette[:, 1] * 0.587 + palette[:, 0] * 0.114).astype(np.uint8)
    stride = (width + 3) // 4 * 4
    rows = abs(height)
    pixels = np.frombuffer(raw, np.uint8, stride * rows, offset).reshape(rows, stride)[:, :width]
    image = grey[pixels]
    return image[::-1] if height > 0 else image


def person_input(image: np.ndarray) -> np.ndarray:
    """The person_detect input (1, 96, 96, 1) int8 for a sample image read by `read_bmp`.

    TFLM's person.bmp / no_person.bmp store the model's int8 input bytes as they are
    (TFLM's generate_cc_arrays.py copies the pixel bytes into an int8 array), so the
    pixels are reinterpreted, not shifted: shifting by 128 would feed a different image.
    """
    return image.view(np.int8).reshape(1, *image.shape, 1)


def person_display(image: np.ndarray) -> np.ndarray:
    """The picture a person sees (uint8, 0 = black) for a sample stored as int8 bytes."""
    return (image.view(np.int8).astype(np.int16) + 128).astype(np.uint8)


def read_ad_sample(path) -> np.ndarray:
    """The AD sample file as (windows, 640) float32: 40 consecutive 640-value inputs of ad01."""
    data = np.fromfile(path, dtype="<f4")
    if data.size % AD_WINDOW:
        raise ValueError(f"{path}: {data.size} floats is not a whole number of {AD_WINDOW}-value windows")
    return data.reshape(-1, AD_WINDOW)
