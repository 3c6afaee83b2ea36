"""tinyship: a TinyML deployment toolchain.

The public API mirrors the CLI verbs; names are resolved lazily so that
`import toolchain` stays cheap and never imports TensorFlow by itself:

    from toolchain import convert, export, analyze, load_model
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

# public name -> module that defines it
_API = {
    "convert": "toolchain.convert",
    "export": "toolchain.export",
    "load_model": "toolchain.model",
    "analyze": "toolchain.analyze",
    "load_board": "toolchain.boards",
    "list_boards": "toolchain.boards",
    "generate": "toolchain.codegen",
    "build": "toolchain.build",
    "emulate": "toolchain.device.emulator",
    "profile": "toolchain.profile",
    "deploy": "toolchain.deploy",
    "flash": "toolchain.device.flash",
}

__all__ = sorted(_API)


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'toolchain' has no attribute {name!r}")


class _ApiModule(types.ModuleType):
    """A module named like the function it defines (toolchain/convert/ defines `convert`).

    Importing `toolchain.convert` rebinds the package attribute `toolchain.convert` to the
    module, so `from toolchain import convert` can yield the module: calling it calls the
    function, so both bindings work.
    """

    def __call__(self, *args, **kwargs):
        return getattr(self, self.__name__.rsplit(".", 1)[1])(*args, **kwargs)


def api_module(module_name: str) -> None:
    """Make the module `module_name` (which defines a function of its own name) callable."""
    sys.modules[module_name].__class__ = _ApiModule
