"""``--help`` cannot drift from the code: for every subcommand, each default the help prints
equals the value the command passes on when the option is not given (read from the app
function's arguments, with the apps replaced by recorders), and options a command does not
use are refused."""

from __future__ import annotations

import importlib
import re
from dataclasses import MISSING
from pathlib import Path

import pytest

from inrkit.cli import build_parser, groups, main
from inrkit.cli.options import arguments, instantiate
from inrkit.device import resolve_device

COMMANDS = {(*((g.name,) if g.name else ()), c.name): c for g in groups() for c in g.commands}


def _id(path):
    return " ".join(path)


MINE = {("fit",), ("compare",), ("render",), ("poisson",), ("blend",), ("integrate",), ("functa", "train"),
        ("functa", "encode"), ("functa", "classify"), ("functa", "sample"), ("nerf", "scene"), ("nerf", "train"),
        ("nerf", "eval"), ("nerf", "render"), ("nerf", "mesh")}
"""The commands whose app calls are recorded below; groups added since (insp, compress) are checked for their
printed defaults only, until their APP entries are added."""


def test_every_command_is_covered():
    assert set(APP) | {("render",)} == MINE
    assert {("fit",), ("compare",), ("render",), ("poisson",), ("blend",), ("integrate",), ("functa", "train"),
            ("functa", "encode"), ("functa", "classify"), ("functa", "sample"), ("nerf", "scene"),
            ("nerf", "train"), ("nerf", "eval"), ("nerf", "render"), ("nerf", "mesh")} <= set(COMMANDS)


def help_defaults(path, capsys, monkeypatch) -> dict[str, str | None]:
    """``inrkit PATH --help`` -> {option name: the printed default, or None where none is printed}."""
    monkeypatch.setenv("COLUMNS", "2000")  # one line per option where argparse allows
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    blocks: dict[str, str] = {}
    current = None
    for line in text.split("\n\n", 2)[2].splitlines():  # after usage and description: the sections
        m = re.match(r"^  (--[\w-]+)", line)
        if m:
            current = m.group(1)
            blocks[current] = line.strip()
        elif current and line.startswith("    "):
            blocks[current] += " " + line.strip()
        else:
            current = None
    blocks.pop("--help", None)
    out = {}
    for flag, block in blocks.items():
        m = re.search(r"\(default: (.*)\)$", block)
        out[flag[2:].replace("-", "_")] = m.group(1) if m else None
    return out


def test_help_is_grouped_and_every_option_explained(capsys, monkeypatch):
    """Sections input/model/training/output/run; every option has help text; every enumerated option shows its
    choices."""
    from inrkit.cli.options import SECTIONS

    for path, cmd in COMMANDS.items():
        monkeypatch.setenv("COLUMNS", "2000")
        with pytest.raises(SystemExit):
            main([*path, "--help"])
        text = capsys.readouterr().out
        titles = [ln[:-1] for ln in text.splitlines() if ln.endswith(":") and not ln.startswith(" ")]
        assert titles[0] == "options" and set(titles[1:]) <= set(SECTIONS.values()), (path, titles)
        if path in MINE:
            assert "other options" not in titles, path
        for a in arguments(cmd.args):
            assert a.help.strip(), (path, a.name)
            if a.choices and not a.positional:
                assert "{" + ",".join(map(str, a.choices)) + "}" in text, (path, a.name)


def minimal_argv(path) -> list[str]:
    """The command with only what it requires: its positionals and required options."""
    argv = list(path)
    for a in arguments(COMMANDS[path].args):
        if a.positional:
            argv.append(f"input-{a.name}")
        elif a.default is not MISSING:
            continue
        else:
            argv += [a.flags[0], "required-out.ply"]
    return argv + EXTRA.get(path, [])


EXTRA = {("nerf", "render"): ["--orbit"]}  # a flag the command cannot run without


def _parse_printed(printed: str, like):
    if isinstance(like, bool):
        return {"true": True, "false": False}[printed]
    if isinstance(like, int):
        return int(printed.replace(",", ""))
    if isinstance(like, float):
        return float(printed.replace(",", ""))
    if isinstance(like, Path):
        return Path(printed)
    if isinstance(like, (tuple, list)):
        parts = printed.split(",") if "," in printed else printed.split()
        return type(like)(_parse_printed(p, like[0]) if like else p for p in parts)
    return printed


def _resolved_preset(path, args) -> str | None:
    from inrkit.config import resolve_preset

    return resolve_preset(args.preset, getattr(args, "device", "auto"))[0] if hasattr(args, "preset") else None


def _printed_for(text: str, preset: str | None) -> str:
    """``by --preset: reference, cpu 256; fast, tiny 64`` -> the text given for ``preset``."""
    if not text.startswith("by --preset: "):
        return text
    for part in text[len("by --preset: "):].split("; "):
        names, value = part.rsplit(" ", 1)
        if preset in names.split(", "):
            return value
    raise AssertionError(f"{text!r} names no value for preset {preset}")


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=_id)
def test_printed_defaults_are_the_parsed_defaults(path, capsys, monkeypatch):
    printed = help_defaults(path, capsys, monkeypatch)
    args, given = instantiate(COMMANDS[path].args, build_parser().parse_args(minimal_argv(path)))
    declared = {a.name: a for a in arguments(COMMANDS[path].args) if not a.positional}
    assert set(printed) == set(declared), "every option in --help is a field of the command, and back"
    for name, text in printed.items():
        a, value = declared[name], getattr(args, name)
        if a.is_flag or a.default is MISSING:
            assert text is None, f"--{name}: a flag or required option prints no default"
            continue
        assert text is not None, f"--{name} prints no default"
        text = _printed_for(text, _resolved_preset(path, args) if a.metadata.get("by_preset") else None)
        if a.metadata.get("by_preset"):  # the parsed option keeps the reference value; the preset's is used
            continue
        if value is None:
            assert text == (a.metadata.get("unset") or "none"), name
        else:
            assert _parse_printed(text, value) == value, (name, text, value)
    assert given == frozenset(p.lstrip("-").replace("-", "_") for p in minimal_argv(path) if p.startswith("--"))


# ---- what the commands pass on ----------------------------------------------------------------

class Recorded(Exception):
    pass


def _recorder(store):
    def record(*args, **kwargs):
        assert not args, "the command line calls the apps with keywords only"
        store.update(kwargs)
        raise Recorded
    return record


APP = {
    ("fit",): ("inrkit.apps.image", "fit_image"),
    ("compare",): ("inrkit.apps.image", "compare_images"),
    ("poisson",): ("inrkit.apps.edit", "poisson_reconstruction"),
    ("blend",): ("inrkit.apps.edit", "blend"),
    ("integrate",): ("inrkit.apps.edit", "integrate"),
    ("functa", "train"): ("inrkit.apps.functa", "train_functa"),
    ("functa", "encode"): ("inrkit.apps.functa", "encode_functaset"),
    ("functa", "classify"): ("inrkit.apps.functa", "classify"),
    ("functa", "sample"): ("inrkit.apps.functa", "sample_functa"),
    ("nerf", "scene"): ("inrkit.signals.scene", "write_scene"),
    ("nerf", "train"): ("inrkit.apps.nerf", "train_nerf"),
    ("nerf", "eval"): ("inrkit.apps.nerf", "eval_nerf"),
    ("nerf", "render"): ("inrkit.apps.nerf", "render_orbit"),
    ("nerf", "mesh"): ("inrkit.apps.nerf", "export_mesh"),
}

# option name -> the app argument (or config attribute) that receives it, where the names differ
FIELD = {"arch": "field_cfg.arch", "width": "field_cfg.width", "depth": "field_cfg.hidden_layers",
         "w0": "field_cfg.w0", "pe_frequencies": "field_cfg.pe.frequencies", "ffn_features": "field_cfg.ffn.features",
         "ffn_sigma": "field_cfg.ffn.sigma", "hash_levels": "field_cfg.hash.levels",
         "hash_log2_table": "field_cfg.hash.log2_table", "hash_max_res": "field_cfg.hash.max_res",
         **{n: f"train_cfg.{n}" for n in ("steps", "lr", "batch_size", "schedule", "log_every", "seed", "compile",
                                          "amp")}}
RENAMED = {
    ("blend",): {"mix": "alpha"},
    ("integrate",): {"fields": "paths"},
    ("functa", "train"): {"depth": "hidden_layers", "latent_dims": "latent_dim"},
    ("functa", "encode"): {"checkpoint": "ckpt"},
    ("functa", "sample"): {"checkpoint": "checkpoint_path"},
    ("nerf", "eval"): {"checkpoint": "ckpt"},
    ("nerf", "render"): {"checkpoint": "ckpt", "format": "fmt"},
    ("nerf", "mesh"): {"checkpoint": "ckpt"},
}
CONFIGURED = {("fit",), ("compare",), ("poisson",), ("blend",), ("integrate",)}
NOT_PASSED = {"preset", "out", "quiet", "log"}  # preset: through the configs; out: a new run folder; quiet: progress;
# log: the command runs inside train.progress.recording (tests/integration/test_dry_run.py checks the files)
COMPUTED = {(("render",), "size"), (("poisson",), "size"), (("poisson",), "steps"), (("blend",), "steps"),
            (("integrate",), "steps"), (("nerf", "train"), "minutes"), (("poisson",), "width"),
            (("blend",), "width"), (("integrate",), "width")}
"""None -> worked out by the command (by the device's recipe) before the app is called; checked below."""
DERIVED = {
    (("render",), "scale"): lambda kw: kw["size"][0] // 6,  # the recorded checkpoint is 6 pixels wide
    (("render",), "device"): lambda kw: "auto" if kw["load_device"] == resolve_device("auto") else kw["load_device"],
}
CHECKED_BY_COMMAND = {(("render",), "max_pixels"),  # the command's own check, not passed on
                      (("fit",), "kind"), (("compare",), "kind"),  # picks the workflow (image here)
                      *((c, n) for c in (("fit",), ("compare",)) for n in ("frames", "stride", "start")),  # video
                      (("render",), "rate"), (("render",), "fps"), (("render",), "slice")}  # other kinds' options


def _get(obj, dotted):
    for part in dotted.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def _received(path, kwargs, name):
    if path in CONFIGURED and name in FIELD and FIELD[name].split(".")[0] in kwargs:
        return _get(kwargs, FIELD[name])
    return kwargs[RENAMED.get(path, {}).get(name, name)]


def _run_recorded(path, argv, monkeypatch):
    store: dict = {}
    for module in ("inrkit.cli.shared", "inrkit.cli.nerf"):  # the recorded checkpoints do not exist
        monkeypatch.setattr(importlib.import_module(module), "check_checkpoint", lambda *a, **k: None)
    if path == ("render",):
        import torch

        from inrkit.train import checkpoint

        def load(path, device, **kwargs):
            store["load_device"] = device
            return torch.nn.Identity(), {"signal": {"kind": "image", "shape": [4, 6]}}

        monkeypatch.setattr(checkpoint, "load", load)
        monkeypatch.setattr(importlib.import_module("inrkit.apps.image"), "render", _recorder(store))
    else:
        module, name = APP[path]
        monkeypatch.setattr(importlib.import_module(module), name, _recorder(store))
        if path == ("functa", "train"):  # the dataset is read once for every latent size, before training
            apps_functa = importlib.import_module(module)
            digits = apps_functa.load_collection("digits")
            monkeypatch.setattr(apps_functa, "load_collection", lambda name: digits)
    with pytest.raises(Recorded):
        main(argv)
    return store


@pytest.mark.parametrize("path", sorted(MINE), ids=_id)
def test_printed_defaults_are_what_the_command_uses(path, tmp_path, capsys, monkeypatch):
    printed = help_defaults(path, capsys, monkeypatch)
    monkeypatch.chdir(tmp_path)  # run folders it names are not created, but stay out of the tree
    kwargs = _run_recorded(path, minimal_argv(path), monkeypatch)
    declared = {a.name: a for a in arguments(COMMANDS[path].args)}
    if "progress" in kwargs:
        assert kwargs["progress"] is True  # --quiet not given
    args, _ = instantiate(COMMANDS[path].args, build_parser().parse_args(minimal_argv(path)))
    for name, text in printed.items():
        if text is None or name in NOT_PASSED or (path, name) in CHECKED_BY_COMMAND:
            continue
        if declared[name].metadata.get("by_preset"):
            text = _printed_for(text, _resolved_preset(path, args))
        got = DERIVED[path, name](kwargs) if (path, name) in DERIVED else _received(path, kwargs, name)
        if name == "latent_dims":  # one model per size; the app takes one
            got = str(got)
        if name == "archs":
            got = ",".join(got)
        if declared[name].default is None:
            if (path, name) not in COMPUTED:
                assert got is None, (name, got)
            continue
        assert got == _parse_printed(text, got), (name, text, got)


def test_config_defaults_are_the_reference_preset():
    from inrkit.cli.shared import _F, _T
    from inrkit.config import PRESETS

    assert (_F, _T) == PRESETS["reference"]


def test_a_preset_fills_only_the_options_not_given(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    from inrkit.config import PRESETS

    kw = _run_recorded(("fit",), ["fit", "x.png", "--preset", "tiny", "--width", "32"], monkeypatch)
    f, t = PRESETS["tiny"]
    assert kw["field_cfg"] == f.__class__(**{**f.__dict__, "width": 32}) and kw["train_cfg"] == t
    assert kw["arch"] == "hash"
    kw = _run_recorded(("poisson",), ["poisson", "x.png", "--preset", "tiny"], monkeypatch)
    assert kw["train_cfg"].steps == 10_000 and kw["train_cfg"].batch_size == t.batch_size  # --steps is poisson's
    kw = _run_recorded(("blend",), ["blend", "a.png", "b.png", "--alpha", "0.25", "--preset", "reference"],
                       monkeypatch)
    assert kw["alpha"] == 0.25 and kw["train_cfg"].steps == 1000


def test_auto_preset_sizes_every_command_for_the_device(monkeypatch, tmp_path):
    """Without a GPU, --preset auto is the cpu recipe: 300 steps on an image capped at 128 px for fit, the
    commands' own CPU sizes for poisson / blend / integrate, 3 minutes for nerf train; with a GPU, the paper's."""
    monkeypatch.chdir(tmp_path)
    from inrkit.cli.edit import CPU_SIZING, PAPER_SIZING
    from inrkit.cli.nerf import CPU_MINUTES, GPU_MINUTES

    for cuda in (False, True):
        monkeypatch.setattr("torch.cuda.is_available", lambda: cuda)
        fit = _run_recorded(("fit",), ["fit", "x.png"], monkeypatch)
        assert fit["train_cfg"].steps == (500 if cuda else 300)
        assert fit["max_size"] == (None if cuda else 128) and fit["size"] is None
        table = PAPER_SIZING if cuda else CPU_SIZING
        p = _run_recorded(("poisson",), ["poisson", "x.png"], monkeypatch)
        assert (p["size"], p["train_cfg"].steps) == (table["poisson"]["size"], table["poisson"]["steps"])
        b = _run_recorded(("blend",), ["blend", "a.png", "b.png"], monkeypatch)
        assert b["train_cfg"].steps == table["blend"]["steps"] and b["max_size"] == table["blend"].get("size")
        assert p["field_cfg"].width == b["field_cfg"].width == (256 if cuda else 128)
        n = _run_recorded(("nerf", "train"), ["nerf", "train", "builtin"], monkeypatch)
        assert n["minutes"] == (GPU_MINUTES if cuda else CPU_MINUTES)
        assert _run_recorded(("fit",), ["fit", "x.png", "--size", "64"], monkeypatch)["max_size"] is None


# ---- options a command does not use are refused ---------------------------------------------

@pytest.mark.parametrize("command", [["poisson", "a.png"], ["blend", "a.png", "b.png"], ["integrate", "g.npy"]],
                         ids=lambda c: c[0])
@pytest.mark.parametrize("option", [["--amp"], ["--compile"], ["--log-every", "5"]], ids=lambda o: o[0])
def test_ignored_options_are_refused(command, option, capsys):
    assert main([*command, *option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("inrkit: error: unrecognized arguments: " + option[0]), err


@pytest.mark.parametrize("argv, needle", [
    ([], "required: COMMAND"),
    (["functa"], "required: COMMAND"),
    (["bogus"], "invalid choice"),
    (["fit"], "required: image"),
    (["fit", "x.png", "--steps", "0"], "--steps must be at least 1, not 0"),
    (["fit", "x.png", "--lr", "-1"], "--lr must be positive, not -1"),
    (["fit", "x.png", "--hash-log2-table", "27"], "--hash-log2-table must be at most 26, not 27"),
    (["fit", "x.png", "--preset", "huge"], "invalid choice"),
    (["blend", "a", "b", "--alpha", "2"], "--mix must be at most 1, not 2"),
    (["render", "ck", "--size", "3"], "expected 2 arguments"),
    (["functa", "classify", "fs", "--out", "o"], "unrecognized arguments: --out"),
    (["nerf", "mesh", "ck"], "required: --out"),
])
def test_usage_errors_are_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("inrkit: error: ") and needle in err, err


def test_interrupt_exits_130(monkeypatch, capsys):
    import inrkit.apps.image as app

    def interrupted(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(app, "fit_image", interrupted)
    assert main(["fit", "x.png"]) == 130
    err = capsys.readouterr().err
    assert err.endswith("\ninrkit: interrupted\n") and err.startswith("inrkit: recipe ")


def test_entry_points_still_resolve():
    import importlib.metadata as md
    import tomllib

    root = Path(__file__).resolve().parents[2]
    script = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]["inrkit"]
    module, func = script.split(":")
    assert getattr(importlib.import_module(module), func) is main
    assert isinstance(md.version("inrkit"), str)
    assert "from .cli import main" in (root / "src" / "inrkit" / "__main__.py").read_text()
