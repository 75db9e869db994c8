"""``graphsurgeon``: the command group. Each command lives in its own module."""
from __future__ import annotations

import gc
import importlib
import sys

import click

from graphsurgeon import __version__

# Command modules, each defining ``command`` (a click command or group).
COMMAND_MODULES = [
    "ls",
    "show",
    "info",
    "freeze",
    "fold_bn",
    "collections",
    "prune",
    "diff",
    "tensorboard",
    "render",
    "explore",
    "layers",
    "rehead",
    "freeze_layers",
    "swap",
    "scan",
    "export",
    "signatures",
    "edit",
    "run",
    "compare",
    "fold_constants",
    "apply",
]


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or help lists it):
    ``graphsurgeon ls`` should not pay for importing the renderer or the rewrites."""

    def list_commands(self, ctx):
        return sorted(self._names())

    def _names(self):
        return {name.replace("_", "-"): name for name in COMMAND_MODULES}

    def get_command(self, ctx, cmd_name):
        module = self._names().get(cmd_name)
        if module is None:
            return None
        command = importlib.import_module(f"graphsurgeon.cli.{module}").command
        if command.name != cmd_name:
            raise RuntimeError(f"cli/{module}.py defines command {command.name!r}, expected {cmd_name!r}")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="graphsurgeon")
@click.option("--debug", is_flag=True, help="show tracebacks on errors")
@click.pass_context
def cli(ctx, debug):
    """Look inside TensorFlow graphs and operate on them.

    MODEL is a .meta file, a checkpoint prefix or directory, a SavedModel
    directory, or a GraphDef (.pb / .pbtxt, binary or text).
    """
    ctx.obj = {"debug": debug}


def main(argv=None):
    # A command is one short process that builds many long-lived objects (a
    # 60,000-op graph's indexes): the cyclic collector would scan them again
    # and again for nothing (about a fifth of `ls` on such a graph). Memory
    # is released when the process ends.
    gc.disable()
    try:
        cli.main(args=argv, prog_name="graphsurgeon", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
