"""Every loader of a user's file loads or refuses in one line, quickly, without memory, inside its folder (issue 13, item 8).

Hypothesis drives the mutators of ``fuzzkit.py`` (shared with ``benchmarks/fuzz_loaders.py``, the
long campaign): images, ``.npy`` gradient fields, blend masks, NeRF ``transforms*.json``,
functaset manifests and shards, folders of images. Each case: success or one line of
``InrkitError``; at most 2 s; peak RSS growth at most 100 MiB; no file opened outside the case's
folder (an ``outside/`` folder beside it holds a valid image and shard that hostile paths point
to; a pickled payload would open a file there for writing). Derandomized: the same examples in
every run. Plus regression tests for what the campaign found.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzkit
from inrkit.errors import InrkitError

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
EXAMPLES = {"images": 120, "gradients": 120, "masks": 60, "nerf": 80, "functaset": 60, "collections": 40}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Each loader's seed files, written once."""
    cache: dict[str, tuple] = {}

    def get(name):
        if name not in cache:
            root = tmp_path_factory.mktemp(f"fuzz-{name}")
            cache[name] = (root, fuzzkit.TARGETS[name].setup(root))
        return cache[name]

    return get


def _check(name, prepared, seed):
    root, state = prepared(name)
    o = fuzzkit.run_one(fuzzkit.TARGETS[name], state, seed, root)
    assert o.ok(), f"{name} case seed {seed}: {o.describe()}"


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_loader_loads_or_refuses_in_one_line(name, prepared):
    @settings(max_examples=EXAMPLES[name], **SETTINGS)
    @given(seed=st.integers(0, 2**32 - 1))
    def prop(seed):
        _check(name, prepared, seed)

    prop()


def test_the_harness_sees_reads_outside_and_hangs(tmp_path):
    """The property is not vacuous: a read outside the folder, an uncaught error, a multi-line
    error and a write outside are each reported."""
    case, outside = tmp_path / "case", tmp_path / "outside"
    case.mkdir()
    outside.mkdir()
    (outside / "x").write_text("secret")
    assert fuzzkit.guarded(lambda: (case.parent / "outside" / "x").read_text(), case).outside
    assert fuzzkit.guarded(lambda: open(outside / "y", "w").close(), case).outside
    assert fuzzkit.guarded(lambda: [][1], case).kind == "uncaught"

    class TwoLines(InrkitError):  # InrkitError itself escapes line breaks; a subclass could still print two
        def __str__(self):
            return "a\nb"

    def two_lines():
        raise TwoLines()

    def escaped():
        raise InrkitError("a\nb")

    assert fuzzkit.guarded(two_lines, case).kind == "multiline"
    assert fuzzkit.guarded(escaped, case).kind == "refused"
    assert fuzzkit.guarded(lambda: (case / "z").write_text("ok"), case).ok()


# ---- regressions: what the fuzzers found ------------------------------------------------------------

def _refused(call, match=None):
    with pytest.raises(InrkitError) as info:
        call()
    msg = str(info.value)
    assert "\n" not in msg, msg
    if match:
        assert match in msg, msg
    return msg


def _png_with(chunk_type: bytes, data: bytes) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buf, format="PNG")
    chunks = fuzzkit._png_chunks(buf.getvalue())
    chunks.insert(1, [chunk_type, data])
    return fuzzkit._png_join(chunks)


@pytest.mark.parametrize("chunk, data", [
    (b"tRNS", b"\x00"),  # ValueError: Truncated tRNS chunk (while reading the header)
    (b"zTXt", b"k\x00\x00" + __import__("zlib").compress(b"\x00" * 10**7)),  # ValueError: ... MAX_TEXT_CHUNK
])
def test_broken_png_header_chunks_are_refused(tmp_path, chunk, data):
    from inrkit.signals.io import load_image

    p = tmp_path / "x.png"
    p.write_bytes(_png_with(chunk, data))
    _refused(lambda: load_image(p), "cannot read")


def test_a_fifo_image_is_refused_not_opened(tmp_path):
    """A FIFO named like an image (in a folder read by functa) blocked the reader forever."""
    from inrkit.signals.collections import load_collection
    from inrkit.signals.io import load_image

    os.mkfifo(tmp_path / "a.png")
    _refused(lambda: load_image(tmp_path / "a.png"), "not a regular file")
    _refused(lambda: load_collection(str(tmp_path)), "not a regular file")


@pytest.mark.parametrize("header", ["{'descr': '<f4', 'fortran_order': False, 'shape': (9, 7, 2", "{" * 200])
def test_npy_headers_that_break_the_tokenizer_are_refused(tmp_path, header):
    """numpy's header parser raised tokenize.TokenError (uncaught) on an unclosed bracket."""
    from inrkit.apps.edit import load_gradient_field

    h = header.encode() + b"\n"
    p = tmp_path / "g.npy"
    p.write_bytes(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + bytes(64))
    _refused(lambda: load_gradient_field([str(p)]), "not a readable .npy")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    from inrkit.signals.scene import write_scene

    return write_scene(tmp_path_factory.mktemp("scene") / "s", size=8, train=2, val=1, test=1)


def _ngp(scene, tmp_path, **edit):
    folder = tmp_path / "ngp"
    shutil.copytree(scene, folder)
    frames = []
    for s in ("train", "val", "test"):
        frames += json.loads((folder / f"transforms_{s}.json").read_text())["frames"]
        (folder / f"transforms_{s}.json").unlink()
    doc = {"fl_x": 9.0, "cx": 4.0, "cy": 4.0, "frames": frames, **edit}
    (folder / "transforms.json").write_text(json.dumps(doc))
    return folder


@pytest.mark.parametrize("edit, match", [
    ({"k1": "/tmp/x.png"}, "k1 must be a number"),  # ValueError: could not convert string to float
    ({"k2": [1, 2]}, "k2 must be a number"),  # TypeError
    ({"aabb": [1, 2, 3]}, "aabb must be"),  # ValueError: cannot reshape
    ({"aabb": "box"}, "aabb must be"),
    ({"aabb": [[0, 0, 0], [1, 1, float("inf")]]}, "aabb must be"),
    ({"aabb": [[1, 1, 1], [0, 0, 0]]}, "aabb must be"),
])
def test_ngp_distortion_and_box_of_the_wrong_type_are_refused(scene, tmp_path, edit, match):
    from inrkit.signals.multiview import load_posed_images

    folder = _ngp(scene, tmp_path, **edit)
    _refused(lambda: load_posed_images(folder, "train"), match)


def test_ngp_valid_distortion_and_box_still_load(scene, tmp_path):
    from inrkit.signals.multiview import load_posed_images

    folder = _ngp(scene, tmp_path, k1=0.0, aabb=[[-1, -1, -1], [1, 1, 1]])
    d = load_posed_images(folder, "train")
    assert d.aabb.tolist() == [[-1, -1, -1], [1, 1, 1]]


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"frames": [], "x": ' + "9" * 5000 + "}"])
def test_transforms_too_deep_or_with_a_huge_number_are_refused(scene, tmp_path, text):
    """RecursionError and ValueError (int string conversion limit) escaped json.loads."""
    from inrkit.signals.multiview import load_posed_images

    folder = tmp_path / "s"
    shutil.copytree(scene, folder)
    (folder / "transforms_train.json").write_text(text)
    _refused(lambda: load_posed_images(folder, "train"), "not valid JSON")


def test_npy_shape_of_booleans_or_negatives_is_refused(tmp_path):
    """A header shape (True, 7, 2) in fortran order raised TypeError from numpy's reshape."""
    from inrkit.apps.edit import load_gradient_field

    for shape in ("(True, 7, 2)", "(-9, -7, 2)"):
        h = ("{'descr': '<f4', 'fortran_order': True, 'shape': " + shape + ", }").encode()
        h += b" " * (-(10 + len(h) + 1) % 64) + b"\n"
        p = tmp_path / "g.npy"
        p.write_bytes(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + bytes(4 * 9 * 7 * 2))
        _refused(lambda: load_gradient_field([str(p)]), "invalid shape")


def test_an_extreme_reduction_is_quick(tmp_path):
    """A 630-byte GIF declaring 39174x12 pixels, loaded with size=7: the Gaussian pre-filter
    (sigma about 2,800 pixels) took over a minute; now area-averaged first."""
    import time

    from PIL import Image

    from inrkit.signals.io import load_image, resize_longer_side

    p = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 39174), dtype=np.uint8)).save(p)
    t0 = time.perf_counter()
    sig = load_image(p, size=7, max_pixels=10**6)
    assert time.perf_counter() - t0 < 2.0
    assert sig.pixels.shape[:2] == (1, 7) and abs(float(sig.pixels.mean()) - 0.5) < 0.05
    x = np.random.default_rng(1).random((64, 64)).astype(np.float32)  # up to 32 times: unchanged (exact skimage)
    from skimage.transform import resize

    assert np.array_equal(resize_longer_side(x, 2), np.clip(resize(x, (2, 2), order=1, anti_aliasing=True,
                                                                   preserve_range=True), 0, 1).astype(np.float32))


def test_sizes_are_compared_from_the_header_before_decoding(tmp_path):
    """A 7071x7071 GIF in a folder of 8x8 images: decoded (1.3 GB, 5.9 s) before 'images differ
    in size'; a mask of another aspect ratio likewise. Now refused from the header."""
    from PIL import Image

    from inrkit.apps.edit import load_mask
    from inrkit.signals.collections import load_collection

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    load_collection(str(tmp_path))  # imports outside the measurement
    Image.new("L", (7071, 7071)).save(tmp_path / "b.png")
    o = fuzzkit.guarded(lambda: load_collection(str(tmp_path)), tmp_path)
    assert o.kind == "refused" and "differ in size" in o.message and o.peak_kb < 100 * 1024, o.describe()
    o = fuzzkit.guarded(lambda: load_mask(str(tmp_path / "b.png"), (9, 16)), tmp_path)
    assert o.kind == "refused" and "aspect ratios differ" in o.message and o.peak_kb < 100 * 1024, o.describe()


@pytest.mark.parametrize("edit", [{"fl_x": 10**400}, {"k1": 10**400}])
def test_integers_beyond_float_are_refused(scene, tmp_path, edit):
    """float(10**400) raised OverflowError (uncaught) in the intrinsics and the matrix."""
    from inrkit.signals.multiview import load_posed_images

    folder = _ngp(scene, tmp_path, **edit)
    _refused(lambda: load_posed_images(folder, "train"), "finite")


def test_a_matrix_entry_beyond_float_is_refused(scene, tmp_path):
    from inrkit.signals.multiview import load_posed_images

    folder = tmp_path / "s"
    shutil.copytree(scene, folder)
    doc = json.loads((folder / "transforms_train.json").read_text())
    doc["frames"][0]["transform_matrix"][0][0] = 10**400
    (folder / "transforms_train.json").write_text(json.dumps(doc))
    _refused(lambda: load_posed_images(folder, "train"), "not a matrix of numbers")


def test_an_oversized_transforms_file_is_refused_before_parsing(scene, tmp_path):
    """A 99 MB transforms_val.json (frames repeated) took 33 s to parse."""
    import time

    from inrkit.signals.multiview import MAX_TRANSFORMS_BYTES, load_posed_images

    folder = tmp_path / "s"
    shutil.copytree(scene, folder)
    doc = json.loads((folder / "transforms_val.json").read_text())
    doc["pad"] = "x" * (MAX_TRANSFORMS_BYTES + 1)
    (folder / "transforms_val.json").write_text(json.dumps(doc))
    t0 = time.perf_counter()
    _refused(lambda: load_posed_images(folder, "val"), "above the limit")
    assert time.perf_counter() - t0 < 2.0
