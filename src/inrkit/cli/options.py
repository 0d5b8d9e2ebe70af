"""Command-line arguments generated from typed dataclass fields.

A command's options are one frozen, keyword-only dataclass (``@options``), usually
composed by inheritance from small shared ones (``Seed``, ``Device``, ``Out`` ...). Each
field becomes one argparse argument, named ``--field-name``:

=============================  ==================================================
field annotation               argument
=============================  ==================================================
``int``, ``float``, ``str``,   ``--name VALUE``, converted by the annotation
``Path``
``bool``                       a flag (``store_true``); its default must be False
``X | None``                   as ``X``; ``None`` means "not given" (``unset`` says what then)
``Literal["a", "b"]``          ``choices`` (or ``choices=`` in ``opt``)
``tuple[int, int]``            ``nargs=2``; ``tuple[X, ...]`` and ``list[X]``: ``nargs="+"``
=============================  ==================================================

Metadata (written with ``opt``) carries the help text, ``positional``, ``aliases`` (more
option strings), ``metavar``, ``unset`` and bounds (``at_least``, ``at_most``,
``above``). A float must be finite (argparse's ``float`` accepts ``nan`` and ``inf``) unless
its field says ``finite=False``. A bound may be a :class:`~inrkit.config.ResourceLimit`
(read when the command runs, so an environment variable raises it). An options class may
define ``check(self)`` for rules over several fields; ``validate`` runs each class's own
after the bounds. ``--help`` appends ``(default: X)`` from the dataclass default itself, so
help and behaviour cannot disagree; a subclass changes a default by redeclaring the field.

The generated arguments carry no argparse default (``SUPPRESS``): the dataclass
supplies every default, and ``instantiate`` also reports which fields the command line
set, so a preset can fill in the rest.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import math
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from ..config import ResourceLimit
from ..errors import InrkitError

__all__ = ["Arg", "Command", "Group", "Invocation", "add_arguments", "arguments", "format_default", "instantiate",
           "opt", "options", "validate"]


def options(cls: type) -> type:
    """Make ``cls`` a frozen, keyword-only dataclass of command-line options."""
    return dataclasses.dataclass(frozen=True, kw_only=True)(cls)


def opt(default: Any = MISSING, help: str = "", *, positional: bool = False, aliases: tuple[str, ...] = (),
        choices: tuple | None = None, metavar: str | tuple[str, ...] | None = None, unset: str | None = None,
        at_least: float | None = None, at_most: float | ResourceLimit | None = None, above: float | None = None,
        finite: bool = True) -> Any:
    """A dataclass field with command-line metadata; no ``default``: required (or positional).

    ``unset`` says what a ``None`` default means ("the image's own size"); it is printed as
    that option's default. Bounds are checked by ``validate`` with the option's name;
    ``finite=False`` lets a float option take ``nan`` or ``inf`` (none does today).
    """
    meta = {"help": help, "positional": positional, "aliases": tuple(aliases), "choices": choices,
            "metavar": metavar, "unset": unset, "at_least": at_least, "at_most": at_most, "above": above,
            "finite": finite}
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Arg:
    """One generated argument: the field it fills and how argparse reads it."""

    name: str
    flags: tuple[str, ...]  # () for a positional argument
    kind: type  # what each value is converted to
    nargs: int | str | None
    container: type | None  # tuple or list for several values
    choices: tuple | None
    default: Any  # MISSING: required
    help: str  # without the appended default
    metadata: typing.Mapping[str, Any]

    @property
    def positional(self) -> bool:
        return not self.flags

    @property
    def is_flag(self) -> bool:
        return self.kind is bool

    @property
    def display(self) -> str:
        """How messages name it: ``--mix/--alpha``, or the positional's name."""
        return "/".join(self.flags) if self.flags else self.name


def _unwrap(tp: Any) -> tuple[type, int | str | None, type | None, tuple | None]:
    """Annotation -> (value type, nargs, container, choices)."""
    if get_origin(tp) in (typing.Union, types.UnionType):
        rest = [a for a in get_args(tp) if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"unsupported option type {tp!r}: only X | None unions")
        tp = rest[0]
    origin = get_origin(tp)
    if origin is Literal:
        values = get_args(tp)
        return type(values[0]), None, None, values
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0], "+", tuple, None
        if len(set(args)) != 1:
            raise TypeError(f"unsupported option type {tp!r}: tuple items must share one type")
        return args[0], len(args), tuple, None
    if origin is list:
        return get_args(tp)[0], "+", list, None
    if tp not in (int, float, str, bool, Path):
        raise TypeError(f"unsupported option type {tp!r}")
    return tp, None, None, None


def arguments(cls: type) -> list[Arg]:
    """The arguments of options class ``cls``, in reading order: the fields it adds, then
    its bases' in the order listed; a field redeclared to change its default keeps its place."""
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    own = {klass: inspect.get_annotations(klass) for klass in cls.__mro__}  # names each class declares
    inherited = {n for klass in cls.__mro__[1:] for n in own[klass]}
    order = [n for n in own[cls] if n not in inherited]
    for klass in cls.__mro__[1:]:
        order += [n for n in own[klass] if n in by_name and n not in order]
    args = []
    for name in order:
        f = by_name[name]
        kind, nargs, container, choices = _unwrap(hints[name])
        md = f.metadata
        choices = md.get("choices") or choices
        default = f.default if f.default_factory is MISSING else f.default_factory()
        flags = () if md.get("positional") else ("--" + name.replace("_", "-"), *md.get("aliases", ()))
        if kind is bool and default is not False:
            raise TypeError(f"flag {name} must default to False")
        if flags == () and default is not MISSING:
            raise TypeError(f"positional {name} cannot have a default")
        args.append(Arg(name, flags, kind, nargs, container, tuple(choices) if choices else None, default,
                        md.get("help", ""), md))
    return args


def format_default(arg: Arg) -> str | None:
    """The text ``--help`` shows as the default; None where it shows none (flags, required)."""
    d = arg.default
    if arg.is_flag or d is MISSING:
        return None
    if d is None:
        return arg.metadata.get("unset") or "none"
    if isinstance(d, tuple | list):
        return " ".join(_fmt(x) for x in d)
    return _fmt(d)


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one argparse argument per field of ``cls``."""
    for a in arguments(cls):
        text = a.help
        shown = format_default(a)
        if shown is not None:
            text = f"{text} (default: {shown})" if text else f"(default: {shown})"
        kw: dict[str, Any] = {"help": text.replace("%", "%%")}
        if a.metadata.get("metavar") is not None:
            kw["metavar"] = a.metadata["metavar"]
        if a.is_flag:
            parser.add_argument(*a.flags, dest=a.name, action="store_true", default=argparse.SUPPRESS, **kw)
            continue
        kw.update(type=a.kind, nargs=a.nargs, choices=a.choices)
        if a.positional:
            parser.add_argument(a.name, **kw)
        else:
            parser.add_argument(*a.flags, dest=a.name, default=argparse.SUPPRESS, required=a.default is MISSING, **kw)


def instantiate(cls: type, namespace: argparse.Namespace) -> tuple[Any, frozenset[str]]:
    """Parsed namespace -> (options instance, names of the options given on the command line)."""
    values, given = {}, set()
    for a in arguments(cls):
        if hasattr(namespace, a.name):
            v = getattr(namespace, a.name)
            values[a.name] = a.container(v) if a.container is not None else v
            if not a.positional:
                given.add(a.name)
    return cls(**values), frozenset(given)


def validate(instance: Any) -> None:
    """Check the declared bounds, then each options class's own ``check``; the messages name
    the option as the user typed it."""
    for a in arguments(type(instance)):
        value = getattr(instance, a.name)
        if value is None or a.is_flag or a.kind not in (int, float):
            continue
        lo, hi, above = a.metadata.get("at_least"), a.metadata.get("at_most"), a.metadata.get("above")
        for v in value if isinstance(value, tuple | list) else (value,):
            if a.kind is float and a.metadata.get("finite", True) and not math.isfinite(v):
                raise InrkitError(f"{a.display} must be a finite number, not {v}")
            if isinstance(hi, ResourceLimit):
                if v > hi.value():
                    raise InrkitError(f"{a.display} must be at most {_fmt(hi.value())}, not {_fmt(v)} (set the "
                                      f"environment variable {hi.env} to raise the limit)")
            elif hi is not None and v > hi:
                raise InrkitError(f"{a.display} must be at most {_fmt(hi)}, not {_fmt(v)}")
            if lo is not None and v < lo:
                raise InrkitError(f"{a.display} must be at least {_fmt(lo)}, not {_fmt(v)}")
            if above is not None and not v > above:
                what = "positive" if above == 0 else f"above {_fmt(above)}"
                raise InrkitError(f"{a.display} must be {what}, not {_fmt(v)}")
    for klass in reversed(type(instance).__mro__):  # bases first
        check = klass.__dict__.get("check")
        if check is not None:
            check(instance)


# ---- commands and command groups ---------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Invocation:
    """What a handler knows besides its options: the command line as typed (for reports)
    and which options it set (the others are defaults, which a preset may replace)."""

    command: str
    given: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand: its options class and the handler that runs it."""

    name: str
    help: str
    args: type
    run: Callable[[Any, Invocation], None]
    description: str | None = None


@dataclasses.dataclass(frozen=True)
class Group:
    """The subcommands one module declares; ``name=None`` puts them at the top level
    (``inrkit fit``), a name nests them (``inrkit functa train``)."""

    commands: tuple[Command, ...]
    name: str | None = None
    help: str = ""
