#!/usr/bin/env python3
"""Reproduce the README's performance table: `python bench/run.py [tinyship bench options]`.

Same as `tinyship bench`; writes bench/results.json. See bench/README.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolchain.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
