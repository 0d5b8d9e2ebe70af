"""The command line: ``inrkit COMMAND ...``, assembled from one module per command group.

Each module (``image``, ``edit``, ``functa``, ``nerf``) declares its subcommands as
``Command(name, help, OptionsClass, handler)`` in a ``GROUP``, each options class next to
its handler. Adding a group is one new module plus its name in ``GROUPS`` below.

Why argparse generated from dataclasses rather than tyro: the generator
(``options.py``) is about 250 lines over the standard library, so the package gains no
dependency; every flag that README, docs and scripts use keeps its exact spelling,
aliases (``blend --alpha``) and positional layout, where tyro imposes its own
conventions (``--flag/--no-flag`` booleans, nested ``--model.width`` names, its own help
layout and error output) that would have to be configured back field by field; and bad
input must stay one line ``inrkit: error: ...`` with exit code 2, which needs argparse's
``error`` hook, while tyro prints rich multi-line panels. What tyro would bring, help text
and defaults from one typed declaration, the generator gives too: the default printed by
``--help`` is the dataclass default itself.

Bad input exits with code 2 and one line on stderr (``inrkit: error: ...``), never a
traceback; argparse's own usage errors use the same code. Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import warnings

from .. import __version__
from ..errors import InrkitError
from .options import Group, Invocation, add_arguments, instantiate, validate

GROUPS = ("image", "edit", "functa", "nerf", "insp", "compress", "pde", "inverse", "shape", "many", "view")
"""Modules of this package that declare a ``GROUP`` of commands, in the order ``--help`` lists them."""

_COMMAND = "_inrkit_command"  # namespace attribute holding the chosen Command


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage first by default)
        raise InrkitError(message)


def groups() -> list[Group]:
    return [importlib.import_module(f".{name}", __name__).GROUP for name in GROUPS]


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="inrkit", description="Implicit neural representations: fit, compare, render, edit; "
                                           "functa and NeRF.")
    p.add_argument("--version", action="version", version=f"inrkit {__version__}")
    top = p.add_subparsers(dest="_inrkit_top", metavar="COMMAND", required=True, parser_class=_Parser)
    for group in groups():
        sub = top
        if group.name is not None:
            gp = top.add_parser(group.name, help=group.help, description=group.help)
            sub = gp.add_subparsers(dest=f"_inrkit_{group.name}", metavar="COMMAND", required=True,
                                    parser_class=_Parser)
        for cmd in group.commands:
            cp = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description or cmd.help)
            add_arguments(cp, cmd.args)
            cp.set_defaults(**{_COMMAND: cmd})
    return p


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings on the command line are one line each, like errors (Python's default adds the
    file name and a line of source)."""
    text = " ".join(str(message).split())
    print(f"inrkit: warning: {text}"[:500], file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    warnings.showwarning = _one_line_warning
    command = "inrkit " + " ".join(shlex.quote(x) for x in argv)
    try:
        ns = build_parser().parse_args(argv)
        cmd = getattr(ns, _COMMAND)
        args, given = instantiate(cmd.args, ns)
        validate(args)
        cmd.run(args, Invocation(command, given))
    except InrkitError as exc:  # DivergedError: exit 3, the run folder says "status": "diverged"
        hint = "; continue it with the same command and --resume --overwrite" if getattr(exc, "resumable", False) else ""
        print(f"inrkit: error: {exc}{hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("inrkit: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
