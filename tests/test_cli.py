"""The CLI front door: help, version, exit codes, and no TensorFlow on light paths."""

import subprocess
import sys

import pytest

PROBE = """
import sys
from toolchain.cli import main
try:
    main({argv!r})
except SystemExit as e:
    code = e.code
print("TF_LOADED" if "tensorflow" in sys.modules else "TF_NOT_LOADED", code, file=sys.stderr)
"""


def run_cli(*argv):
    return subprocess.run([sys.executable, "-c", PROBE.format(argv=list(argv))],
                          capture_output=True, text=True, timeout=120)


def test_help_lists_verbs_without_tensorflow():
    r = run_cli("--help")
    assert "convert" in r.stdout and "analyze" in r.stdout
    assert "TF_NOT_LOADED 0" in r.stderr


def test_unknown_command_is_a_usage_error():
    r = run_cli("frobnicate")
    assert r.stderr.strip().endswith("2"), r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("verb", ["convert", "export", "analyze"])
def test_each_verb_has_help(verb):
    r = run_cli(verb, "--help")
    assert "Usage:" in r.stdout, r.stdout + r.stderr


def test_public_api_names_resolve_to_callables_without_tensorflow():
    probe = ("import sys, toolchain\n"
             "bad = [n for n in toolchain.__all__ if not callable(getattr(toolchain, n))]\n"
             "print(bad, 'tensorflow' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "[] False", r.stdout + r.stderr


def test_every_help_ends_with_examples_of_that_command():
    from click.testing import CliRunner

    from toolchain.cli import COMMANDS, cli

    def paths(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from paths(sub, path + [name])

    ctx = cli.make_context("tinyship", ["--help"], resilient_parsing=True)
    commands = [([], cli)] + [p for verb in COMMANDS for p in paths(cli.get_command(ctx, verb), [verb])]
    assert len(commands) > len(COMMANDS)  # the groups' subcommands (boards show, ci init) are covered too
    for path, _ in commands:
        out = CliRunner().invoke(cli, [*path, "--help"]).output
        examples = out[out.index("Examples:"):].split("\n")[1:]
        shown = [line.strip() for line in examples if line.strip()]
        assert shown and all(line.startswith(" ".join(["tinyship", *path])) for line in shown), (path, out)
