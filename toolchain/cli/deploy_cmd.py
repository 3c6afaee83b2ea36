"""`tinyship deploy MODEL --board ID`: the whole pipeline with one progress display and a summary."""

from __future__ import annotations

import functools

import click

from toolchain.cli.common import builder_option, kernels_option, mlperf_name_option, port_option
from toolchain.cli.profile_cmd import profile_options, run_with_display
from toolchain.device.flash import UPLOAD_TIMEOUT


@click.command("deploy")
@click.argument("model", type=click.Path(exists=True))
@click.option("--board", required=True, metavar="ID", help="Board id from the catalog (see `tinyship boards`).")
@click.option("--engine", type=click.Choice(["aot", "tflm"]), default="aot", show_default=True)
@click.option("--calib", help="Calibration data for a Keras model (.npy/.npz, folder of .npy, or 'random').")
@click.option("--emulate/--flash", "emulate", default=None,
              help="Run in the emulator (default for host and qemu-* boards) or flash a real board and profile it.")
@port_option
@click.option("--memory-of", metavar="BOARD",
              help="Link with another board's flash/RAM sizes (emulated boards), e.g. --board qemu-cortex-m4 "
                   "--memory-of stm32f103-bluepill; exits 3 naming the shortfall when the firmware does not fit.")
@click.option("--tflm-dir", type=click.Path(exists=True, file_okay=False), help="TFLM source tree for --engine tflm on Makefile boards.")
@click.option("--upload-timeout", type=float, default=UPLOAD_TIMEOUT, show_default=True, metavar="SECONDS",
              help="With --flash: deadline for the upload tool (as `tinyship flash --upload-timeout`).")
@kernels_option
@builder_option
@mlperf_name_option
@profile_options
def command(model, board, engine, calib, emulate, port, memory_of, tflm_dir, upload_timeout, kernels, builder,
            mlperf_name, as_json, **options):
    """convert (Keras) -> analyze -> generate -> build -> flash or emulate -> profile MODEL on --board.

    Writes -o DIR (default tinyship-MODEL-BOARD): model/, firmware/, report/. Ctrl-C or SIGTERM
    stops the running stage's tools (compiler, emulator, uploader), keeps report/ as a partial
    report naming the stage (exit 130 / 143) and leaves no half-written model/ or firmware/.
    """
    from toolchain.deploy import deploy

    run_with_display(as_json, functools.partial(deploy, model), board=board, engine=engine, calib=calib,
                     emulate=emulate, port=port, tflm_dir=tflm_dir, kernels=kernels, memory_of=memory_of,
                     builder=builder, mlperf_name=mlperf_name, upload_timeout=upload_timeout, **options)
