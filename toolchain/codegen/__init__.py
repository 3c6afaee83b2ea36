"""Code generation: firmware projects (`generate`) and the aot engine's model code."""

from toolchain.codegen.project import Project, generate

__all__ = ["Project", "generate"]
