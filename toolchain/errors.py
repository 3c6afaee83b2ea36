"""One error hierarchy for the whole toolchain.

Library code raises these; only the CLI turns them into a one-line message and
an exit code. Every message names the problem and, where there is one, the fix.

Exit codes (also in docs/exit-codes.md):
  1  unexpected internal error (a bug: please report it)
  2  bad input or usage (missing file, not a model, wrong calibration shape, ...)
  3  the model does not fit or is not supported (float ops, unsupported ops, over budget)
  4  a device, emulator or external tool failed or is missing (timeout, HardFault, no PlatformIO)
  5  stale firmware: the device runs another model than the one given
  6  a build failed (compiler or linker error)
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM): tools and emulators stopped, partial report written
"""


class ToolchainError(Exception):
    """Base class: a failure the user can act on."""

    exit_code = 1

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}; {self.fix}" if self.fix else self.message

    def __reduce__(self):  # keep the fix when pickled (errors of toolchain.isolated children)
        return type(self), (self.message, self.fix)


class InputError(ToolchainError):
    """The user gave a file, option or data set the toolchain cannot use."""

    exit_code = 2


class ModelError(InputError):
    """A model file is missing, corrupt or not a model."""


class CalibrationError(InputError):
    """Calibration or evaluation data is missing or does not match the model."""


class NotSupportedError(ToolchainError):
    """The model needs something the chosen engine, converter or board lacks."""

    exit_code = 3


class ConvertError(NotSupportedError):
    """The converter left ops in float or failed on the model."""


class DoesNotFitError(NotSupportedError):
    """The model (or firmware) exceeds the board's flash or RAM budget."""


class DeviceError(ToolchainError):
    """A device, emulator or external tool failed."""

    exit_code = 4


class DeviceTimeout(DeviceError):
    """The device did not answer within the timeout."""


class ToolMissingError(DeviceError):
    """An external tool (PlatformIO, Renode, QEMU, a compiler) is not installed."""


class StaleFirmwareError(ToolchainError):
    """The device runs another model than the one the user gave."""

    exit_code = 5


class BuildError(ToolchainError):
    """The compiler or linker failed."""

    exit_code = 6


class ValidationFailed(ToolchainError):
    """The run completed, but the device's outputs differ from the TFLM reference beyond --tolerance."""

    exit_code = 7


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwinds like Ctrl-C (tools and emulators stopped, partial report written), exit 143."""

    exit_code = 143
