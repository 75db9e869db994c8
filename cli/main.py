"""``graphsurgeon``: the command group. Each command lives in its own module."""
from __future__ import annotations

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
    "collections",
    "prune",
    "diff",
    "tensorboard",
    "render",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="graphsurgeon")
@click.option("--debug", is_flag=True, help="show tracebacks on errors")
@click.pass_context
def cli(ctx, debug):
    """Look inside TensorFlow graphs and operate on them.

    MODEL is a .meta file, a checkpoint prefix or directory, a SavedModel
    directory, or a GraphDef (.pb / .pbtxt, binary or text).
    """
    ctx.obj = {"debug": debug}


for _name in COMMAND_MODULES:
    cli.add_command(importlib.import_module(f"graphsurgeon.cli.{_name}").command)


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="graphsurgeon", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
