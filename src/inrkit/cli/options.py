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
option strings), ``deprecated`` (old option strings still accepted, hidden from ``--help``, with a
warning on stderr), ``metavar``, ``unset``, ``group`` (the ``--help`` section), ``by_preset`` (the
value each ``--preset`` gives it, printed as its default) and bounds (``at_least``, ``at_most``,
``above``). A float must be finite (argparse's ``float`` accepts ``nan`` and ``inf``) unless
its field says ``finite=False``. A bound may be a :class:`~inrkit.config.ResourceLimit`
(read when the command runs, so an environment variable raises it). An options class may
define ``check(self)`` for rules over several fields; ``validate`` runs each class's own
after the bounds. ``--help`` appends ``(default: X)`` from the dataclass default itself, so
help and behaviour cannot disagree; a subclass changes a default by redeclaring the field.

``--help`` lists the options in sections, :data:`SECTIONS` (input, model, training, output, run):
an option's section is its ``group`` metadata, else the ``group`` given to ``@options(group=...)`` by
the class that first declares the field, else :data:`SECTION_OF` by its name, else "other options".

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

__all__ = ["Arg", "Command", "Group", "Invocation", "SECTIONS", "SECTION_OF", "add_arguments", "arguments",
           "deprecated_used", "format_default", "instantiate", "opt", "options", "section", "validate"]

SECTIONS = {"input": "input", "model": "model", "training": "training", "output": "output",
            "run": "run (device, seed, progress)", "other": "other options"}
"""``--help`` sections in the order they are printed: key -> title."""

SECTION_OF = {
    **dict.fromkeys(("image", "size", "resample", "max_pixels", "alpha", "dataset", "mask", "fields", "checkpoint",
                     "functaset", "split", "limit", "downscale", "background", "a", "b"), "input"),
    **dict.fromkeys(("preset", "arch", "archs", "width", "depth", "w0", "latent_dims", "couplings", "hidden",
                     "operator", "supervision"), "model"),
    **dict.fromkeys(("steps", "lr", "batch_size", "schedule", "minutes", "holdout", "log_every", "compile", "amp",
                     "epochs", "inner_steps", "first_order", "eval_items", "eval_every", "eval_views", "batch_rays",
                     "mix", "diffusion_steps", "temperature"), "training"),
    **dict.fromkeys(("out", "overwrite", "dry_run", "log", "snapshot_minutes", "resume", "shard_size", "format",
                     "frames", "samples", "pairs", "orbit", "elevation", "radius", "resolution", "level", "train",
                     "val", "test"), "output"),
    **dict.fromkeys(("seed", "device", "quiet", "chunk"), "run"),
}
"""The section of an option whose declaration names none (commands of other modules keep working unchanged)."""


def options(cls: type | None = None, *, group: str | None = None):
    """Make ``cls`` a frozen, keyword-only dataclass of command-line options; ``@options(group="model")``
    also puts the fields it declares in that ``--help`` section."""
    def make(c: type) -> type:
        if group is not None:
            if group not in SECTIONS:
                raise TypeError(f"unknown option group {group!r}; one of {', '.join(SECTIONS)}")
            c.__inrkit_group__ = group
        return dataclasses.dataclass(frozen=True, kw_only=True)(c)
    return make if cls is None else make(cls)


def opt(default: Any = MISSING, help: str = "", *, positional: bool = False, aliases: tuple[str, ...] = (),
        choices: tuple | None = None, metavar: str | tuple[str, ...] | None = None, unset: str | None = None,
        at_least: float | None = None, at_most: float | ResourceLimit | None = None, above: float | None = None,
        finite: bool = True, group: str | None = None, by_preset: typing.Mapping[str, Any] | None = None,
        deprecated: tuple[str, ...] = ()) -> Any:
    """A dataclass field with command-line metadata; no ``default``: required (or positional).

    ``unset`` says what a ``None`` default means ("the image's own size"); it is printed as
    that option's default. Bounds are checked by ``validate`` with the option's name;
    ``finite=False`` lets a float option take ``nan`` or ``inf`` (none does today). ``group``: the
    ``--help`` section (:data:`SECTIONS`). ``by_preset``: {preset: value} where ``--preset`` sets
    the option; ``--help`` prints those values as its default. ``deprecated``: old option strings
    still accepted (with a warning), not shown by ``--help``.
    """
    if group is not None and group not in SECTIONS:
        raise TypeError(f"unknown option group {group!r}; one of {', '.join(SECTIONS)}")
    meta = {"help": help, "positional": positional, "aliases": tuple(aliases), "choices": choices,
            "metavar": metavar, "unset": unset, "at_least": at_least, "at_most": at_most, "above": above,
            "finite": finite, "group": group, "by_preset": dict(by_preset) if by_preset else None,
            "deprecated": tuple(deprecated)}
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


def section(cls: type, arg: Arg) -> str:
    """The ``--help`` section of ``arg`` in options class ``cls`` (see the module docstring)."""
    if arg.metadata.get("group"):
        return arg.metadata["group"]
    for klass in reversed(cls.__mro__):  # the first class that declares it, bases first
        if arg.name in inspect.get_annotations(klass) and klass.__dict__.get("__inrkit_group__"):
            return klass.__dict__["__inrkit_group__"]
    if arg.positional:
        return "input"
    return SECTION_OF.get(arg.name, "other")


def format_default(arg: Arg) -> str | None:
    """The text ``--help`` shows as the default; None where it shows none (flags, required)."""
    d = arg.default
    if arg.is_flag or d is MISSING:
        return None
    by = arg.metadata.get("by_preset")
    if by:
        same: dict[str, list[str]] = {}
        for name, v in by.items():
            same.setdefault(_fmt_value(v, arg), []).append(name)
        return "by --preset: " + "; ".join(f"{', '.join(names)} {v}" for v, names in same.items())
    return _fmt_value(d, arg)


def _fmt_value(d: Any, arg: Arg) -> str:
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


def deprecated_used(cls: type, command: str) -> list[str]:
    """Warnings for the old option strings (``deprecated`` metadata) used in ``command`` (the command line as
    :class:`Invocation` holds it). A handler prints them once its options are valid, so a usage error stays
    one line."""
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    out = []
    for a in arguments(cls):
        for old in a.metadata.get("deprecated") or ():
            if any(w == old or w.startswith(old + "=") for w in words):
                out.append(f"inrkit: warning: {old} is deprecated here; use {a.flags[0]}")
    return out


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one argparse argument per field of ``cls``, in ``--help`` sections (:data:`SECTIONS`)."""
    args = arguments(cls)
    wanted = {section(cls, a) for a in args}
    groups = {key: parser.add_argument_group(title) for key, title in SECTIONS.items() if key in wanted}
    for a in args:
        target = groups[section(cls, a)]
        text = a.help
        shown = format_default(a)
        if shown is not None:
            text = f"{text} (default: {shown})" if text else f"(default: {shown})"
        kw: dict[str, Any] = {"help": text.replace("%", "%%")}
        if a.metadata.get("metavar") is not None:
            kw["metavar"] = a.metadata["metavar"]
        if a.is_flag:
            target.add_argument(*a.flags, dest=a.name, action="store_true", default=argparse.SUPPRESS, **kw)
            continue
        kw.update(type=a.kind, nargs=a.nargs, choices=a.choices)
        if a.positional:
            target.add_argument(a.name, **kw)
        else:
            target.add_argument(*a.flags, dest=a.name, default=argparse.SUPPRESS, required=a.default is MISSING, **kw)
            old = a.metadata.get("deprecated") or ()
            if old:
                target.add_argument(*old, dest=a.name, default=argparse.SUPPRESS, type=a.kind, nargs=a.nargs,
                                    choices=a.choices, help=argparse.SUPPRESS)


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

    def __post_init__(self) -> None:
        # A command with a ``log`` option (``cli.shared.Log``) records its training scalars: its handler runs
        # inside ``inrkit.train.progress.recording``, and the run folder it writes receives the logs.
        if any(f.name == "log" for f in dataclasses.fields(self.args)) and not hasattr(self.run, "__inrkit_logged__"):
            object.__setattr__(self, "run", _recorded(self.run))


def _recorded(handler: Callable[[Any, Invocation], None]) -> Callable[[Any, Invocation], None]:
    """``handler`` run inside ``recording(--log)``; a ``--dry-run`` records nothing."""
    import functools

    @functools.wraps(handler)
    def run(a: Any, invocation: Invocation) -> None:
        from ..train.progress import recording

        if getattr(a, "dry_run", False):
            return handler(a, invocation)
        with recording(a.log, say=not getattr(a, "quiet", False)):
            return handler(a, invocation)

    run.__inrkit_logged__ = True  # type: ignore[attr-defined]
    return run


@dataclasses.dataclass(frozen=True)
class Group:
    """The subcommands one module declares; ``name=None`` puts them at the top level
    (``inrkit fit``), a name nests them (``inrkit functa train``)."""

    commands: tuple[Command, ...]
    name: str | None = None
    help: str = ""
