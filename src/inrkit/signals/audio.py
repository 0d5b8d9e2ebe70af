"""Audio as a signal: t -> amplitude, one output per channel.

WAV files are read with the standard library's ``wave`` and NumPy (8-bit unsigned, 16/24/32-bit
signed PCM) and with SciPy's ``scipy.io.wavfile`` for 32/64-bit float and WAVE_FORMAT_EXTENSIBLE
files; FLAC and OGG go through ``soundfile`` (libsndfile) when it is installed (``pip install
inrkit[audio]``). Every reader learns the number of samples from the header first and refuses a
file above :data:`MAX_AUDIO_SAMPLES` before decoding any of it.

Samples become floats in [-1, 1] (PCM: ``x / 2^(bits-1)``, 8-bit ``(x - 128) / 128``), the
value range of the fit, so PSNR uses a peak-to-peak of 2 as for images. The time axis is the
coordinate ``t`` in [-1, 1] by the cell-centre convention of :mod:`inrkit.coords`: sample i of N
sits at ``-1 + (2i + 1) / N``. Rendering at another rate R evaluates the field at the centres
of ``round(N R / rate)`` equal cells of the same interval.

The fitting recipe is SIREN's for audio (Sitzmann et al. 2020, sec. 4.1 and supplement sec. 5):
a first-layer omega_0 of 3000 on the time axis, so the first layer spans the frequencies of
speech over [-1, 1]; hidden layers keep omega_0 = 30; 3 hidden layers of 256 (the authors'
``explore_siren.ipynb``), Adam with learning rate 1e-4.
"""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np

from ..atomic import write_bytes_atomic
from ..errors import InrkitError
from ..limits import ResourceLimit
from .grid import GridSignal, evaluate_grid
from .kinds import Kind, Panel, RenderRequest, Rendering

MAX_AUDIO_SAMPLES = ResourceLimit("INRKIT_MAX_AUDIO_SAMPLES", 2**27, "samples (frames x channels)")
"""2^27 samples (512 MiB as float32): 23 minutes of 48 kHz stereo; checked from the header."""

MAX_RENDER_SAMPLES = ResourceLimit("INRKIT_MAX_RENDER_SAMPLES", 2**27, "samples (frames x channels)")
"""Samples one ``inrkit render --rate`` may write."""

SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga")

AUDIO_FIRST_W0 = 3000.0
"""SIREN's first-layer omega_0 for audio (Sitzmann et al. 2020, sec. 4.1): the time axis in [-1, 1]."""

_WAVE_FORMAT_PCM, _WAVE_FORMAT_FLOAT, _WAVE_FORMAT_EXTENSIBLE = 1, 3, 0xFFFE


# ---- reading -------------------------------------------------------------------------------

def _wav_header(path: Path) -> dict:
    """Parse a RIFF/WAVE header without reading the samples: format tag, channels, rate, bits,
    frames (from the data chunk's size, bounded by what the file holds)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            raise InrkitError(f"{path} is not a WAV file (no RIFF/WAVE header)")
        fmt = None
        while True:
            ch = f.read(8)
            if len(ch) < 8:
                break
            cid, clen = ch[:4], struct.unpack("<I", ch[4:])[0]
            if cid == b"fmt ":
                body = f.read(min(clen, 64))
                if len(body) < 16:
                    raise InrkitError(f"{path}: its WAV format chunk is truncated")
                tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", body[:16])
                if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                    tag = struct.unpack("<H", body[24:26])[0]
                fmt = {"tag": tag, "channels": channels, "rate": rate, "align": align, "bits": bits}
                f.seek(clen - len(body) + (clen & 1), 1)
            elif cid == b"data":
                if fmt is None:
                    raise InrkitError(f"{path}: WAV data before its format chunk")
                available = size - f.tell()
                data_bytes = min(clen, available)
                if fmt["channels"] < 1 or fmt["rate"] < 1 or fmt["align"] < 1:
                    raise InrkitError(f"{path}: WAV header declares {fmt['channels']} channels at {fmt['rate']} Hz "
                                      f"with {fmt['align']}-byte frames")
                fmt["frames"] = data_bytes // fmt["align"]
                return fmt
            else:
                f.seek(clen + (clen & 1), 1)
    raise InrkitError(f"{path}: a WAV file without {'a data' if fmt else 'a format'} chunk (corrupt or truncated)")


def _pcm_to_float(raw: bytes, bits: int, channels: int) -> np.ndarray:
    """Interleaved little-endian PCM bytes -> ``(frames, channels)`` float32 in [-1, 1]."""
    if bits == 8:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif bits == 16:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif bits == 24:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    elif bits == 32:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    else:
        raise InrkitError(f"{bits}-bit PCM WAV is not supported (8, 16, 24 or 32 bits)")
    return x.reshape(-1, channels)


def read_wav(path: str | Path) -> tuple[np.ndarray, int, dict]:
    """``(samples (frames, channels) float32 in [-1, 1], sample rate, info)`` of a WAV file.

    The header is read first; more than :data:`MAX_AUDIO_SAMPLES` samples are refused before decoding.
    """
    path = Path(path)
    h = _wav_header(path)
    MAX_AUDIO_SAMPLES.check(h["frames"] * h["channels"], f"{path.name}")
    if h["frames"] == 0:
        raise InrkitError(f"{path} holds no audio samples")
    if h["tag"] == _WAVE_FORMAT_PCM and h["align"] == h["channels"] * ((h["bits"] + 7) // 8):
        try:
            with wave.open(str(path), "rb") as w:
                raw = w.readframes(h["frames"])
                x = _pcm_to_float(raw, 8 * w.getsampwidth(), w.getnchannels())
        except (wave.Error, EOFError, struct.error) as exc:
            raise InrkitError(f"{path}: corrupt WAV ({exc})") from None
        kind = f"{h['bits']}-bit PCM"
    elif h["tag"] in (_WAVE_FORMAT_FLOAT, _WAVE_FORMAT_PCM):
        from scipy.io import wavfile

        try:
            _, data = wavfile.read(str(path), mmap=True)
        except (ValueError, OSError, EOFError) as exc:
            raise InrkitError(f"{path}: corrupt WAV ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") \
                from None
        data = np.asarray(data)
        if data.dtype.kind == "f":
            x = np.array(data, dtype=np.float32)
            kind = f"{8 * data.dtype.itemsize}-bit float"
        else:  # extensible PCM: scale by the container
            info = np.iinfo(data.dtype)
            x = ((np.asarray(data, np.float64) - (128 if data.dtype == np.uint8 else 0)) /
                 (128.0 if data.dtype == np.uint8 else -float(info.min))).astype(np.float32)
            kind = f"{h['bits']}-bit PCM"
        x = x.reshape(len(x), -1)
        if not np.isfinite(x).all():
            raise InrkitError(f"{path} holds NaN or infinite samples")
        x = np.clip(x, -1.0, 1.0)
    else:
        raise InrkitError(f"{path}: WAV format {h['tag']} is not supported (PCM or IEEE float)")
    if len(x) == 0:
        raise InrkitError(f"{path} holds no audio samples")
    return x, int(h["rate"]), {"encoding": kind, "bit_depth": int(h["bits"])}


def read_soundfile(path: str | Path) -> tuple[np.ndarray, int, dict]:
    """FLAC / OGG (anything libsndfile reads) through ``soundfile``, header checked first."""
    path = Path(path)
    try:
        import soundfile as sf
    except ImportError:
        raise InrkitError(f"reading {path.suffix} needs the soundfile package (pip install inrkit[audio]); "
                          "WAV works without it") from None
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError if hasattr(sf, "LibsndfileError") else RuntimeError) as exc:
        raise InrkitError(f"{path}: cannot read it as audio ({str(exc).splitlines()[0]})") from None
    MAX_AUDIO_SAMPLES.check(int(info.frames) * int(info.channels), path.name)
    if info.frames <= 0:
        raise InrkitError(f"{path} holds no audio samples")
    try:
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, ValueError) as exc:
        raise InrkitError(f"{path}: corrupt audio ({str(exc).splitlines()[0]})") from None
    if len(x) == 0:
        raise InrkitError(f"{path} holds no audio samples")
    return np.clip(x, -1.0, 1.0), int(rate), {"encoding": f"{info.format} {info.subtype}"}


def load_audio(path: str | Path) -> GridSignal:
    """A WAV / FLAC / OGG file as a :class:`GridSignal` of kind ``audio``: values ``(N, C)`` in [-1, 1]."""
    path = Path(path)
    if not path.is_file():
        raise InrkitError(f"no audio file {path}")
    if path.stat().st_size == 0:
        raise InrkitError(f"{path} is empty (zero bytes)")
    if path.suffix.lower() in (".wav", ".wave"):
        x, rate, info = read_wav(path)
    else:
        x, rate, info = read_soundfile(path)
    return signal_from_samples(x, rate, name=path.stem, source=str(path), **info)


def signal_from_samples(samples: np.ndarray, rate: int, name: str = "audio", **info) -> GridSignal:
    """A :class:`GridSignal` of ``samples (N,)`` or ``(N, C)`` in [-1, 1] at ``rate`` samples per second."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise InrkitError(f"audio samples must be (N,) or (N, channels) with N >= 1, not {x.shape}")
    if rate < 1:
        raise InrkitError(f"the sample rate must be positive, not {rate}")
    return GridSignal(x, "audio", (-1.0, 1.0), None, name,
                      {"sample_rate": int(rate), "seconds": x.shape[0] / rate, **info})


# ---- writing -------------------------------------------------------------------------------

def wav_bytes(samples: np.ndarray, rate: int, bits: int | str = 16) -> bytes:
    """``samples (N, C)`` (or ``(N,)``) in [-1, 1] as a WAV file's bytes: ``bits`` 8, 16, 24, 32 (PCM, by
    ``wave``) or ``"float"`` (32-bit IEEE float, by SciPy). Values are clipped to [-1, 1] and rounded."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    x = np.clip(np.nan_to_num(x), -1.0, 1.0)
    buf = io.BytesIO()
    if bits == "float":
        from scipy.io import wavfile

        wavfile.write(buf, int(rate), x.astype(np.float32))
        return buf.getvalue()
    if bits == 8:
        raw = np.clip(np.round(x * 128.0 + 128.0), 0, 255).astype(np.uint8).tobytes()
    elif bits == 16:
        raw = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2").tobytes()
    elif bits == 24:
        v = np.clip(np.round(x * 8388608.0), -8388608, 8388607).astype(np.int32).reshape(-1)
        raw = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=-1).astype(np.uint8).tobytes()
    elif bits == 32:
        raw = np.clip(np.round(x * 2147483648.0), -2147483648, 2147483647).astype("<i4").tobytes()
    else:
        raise InrkitError(f"WAV bit depth must be 8, 16, 24, 32 or 'float', not {bits!r}")
    with wave.open(buf, "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(int(bits) // 8)
        w.setframerate(int(rate))
        w.writeframes(raw)
    return buf.getvalue()


def write_wav(path: str | Path, samples: np.ndarray, rate: int, bits: int | str = 16) -> None:
    """:func:`wav_bytes` written atomically (a temporary name, then renamed)."""
    write_bytes_atomic(path, wav_bytes(samples, rate, bits))


# ---- report panels and rendering ------------------------------------------------------------------

def snr_db(pred: np.ndarray, target: np.ndarray) -> float:
    """Signal-to-noise ratio 10 log10(sum target^2 / sum (pred - target)^2), in dB."""
    t = np.asarray(target, np.float64)
    err = float(np.sum((np.asarray(pred, np.float64) - t) ** 2))
    sig = float(np.sum(t ** 2))
    if err == 0:
        return float("inf")
    return 10.0 * np.log10(max(sig, 1e-30) / err)


def _extra_metrics(pred: np.ndarray, signal: GridSignal) -> dict:
    return {"snr": snr_db(pred, signal.values)}


def _waveform_png(signal: GridSignal, pred: np.ndarray) -> bytes:
    from ..report import plots

    plt = plots._plt()
    rate = signal.info.get("sample_rate", 1)
    t = np.arange(signal.shape[0]) / rate
    target, fit = signal.values[:, 0], pred[:, 0]
    fig, axes = plt.subplots(3, 1, figsize=(10, 6.5), sharex=False)
    axes[0].plot(t, target, lw=0.5, label="target")
    axes[0].plot(t, fit, lw=0.5, alpha=0.7, label="fit")
    axes[0].set(ylabel="amplitude", title="waveform (channel 1)")
    axes[0].legend(fontsize=8, loc="upper right")
    axes[1].plot(t, fit - target, lw=0.5, color="C3")
    axes[1].set(ylabel="fit - target", title="error")
    n = len(t)
    a, b = n // 2, min(n, n // 2 + max(64, rate // 50))  # a 20 ms window in the middle
    axes[2].plot(t[a:b], target[a:b], marker=".", ms=3, lw=0.8, label="target")
    axes[2].plot(t[a:b], fit[a:b], lw=0.8, label="fit")
    axes[2].set(xlabel="seconds", ylabel="amplitude", title="close-up (20 ms)")
    axes[2].legend(fontsize=8, loc="upper right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return plots.fig_to_png_bytes(fig)


def _spectrogram_png(signal: GridSignal, pred: np.ndarray) -> bytes:
    from ..report import plots

    plt = plots._plt()
    rate = signal.info.get("sample_rate", 1)
    n = signal.shape[0]
    nfft = 512 if n >= 2048 else max(16, 2 ** int(np.log2(max(n // 4, 16))))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, (title, x) in zip(axes, [("target", signal.values[:, 0]), ("fit", pred[:, 0])]):
        with np.errstate(divide="ignore"):  # digital silence has zero power: -inf dB, drawn as the floor
            ax.specgram(x.astype(np.float64), NFFT=nfft, Fs=rate, noverlap=nfft // 2, cmap="magma", vmin=-140,
                        vmax=-20)
        ax.set(title=f"spectrogram: {title}", xlabel="seconds")
    axes[0].set_ylabel("Hz")
    fig.tight_layout()
    return plots.fig_to_png_bytes(fig)


def _audio_tag(samples: np.ndarray, rate: int, caption: str) -> str:
    import base64
    import html

    data = base64.b64encode(wav_bytes(samples, rate, 16)).decode()
    return (f"<figure><audio controls src='data:audio/wav;base64,{data}'></audio>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


MAX_EMBEDDED_SAMPLES = 2_000_000
"""Longer clips are written as WAV files into the run folder and linked, not inlined in report.html."""


def panels(fit) -> list[Panel]:
    """Report sections: audio players for target and fit, waveform + error, spectrograms."""
    from ..report import html as H

    signal, pred = fit.signal, fit.prediction
    rate = int(signal.info.get("sample_rate", 1))
    if signal.samples <= MAX_EMBEDDED_SAMPLES:
        players = _audio_tag(signal.values, rate, "target") + _audio_tag(pred, rate, "f(t), the fitted field")
    else:
        write_wav(fit.folder / "target.wav", signal.values, rate)
        write_wav(fit.folder / "fit.wav", pred, rate)
        players = ("<figure><audio controls src='target.wav'></audio><figcaption>target</figcaption></figure>"
                   "<figure><audio controls src='fit.wav'></audio><figcaption>f(t)</figcaption></figure>")
    m = fit.metrics
    cards = H.cards([("SNR", f"{m['snr']:.2f} dB"), ("sample rate", f"{rate:,} Hz"),
                     ("duration", f"{signal.shape[0] / rate:.2f} s"), ("channels", str(signal.channels))])
    return [("Listen", cards + players),
            ("Waveform", H.figure(_waveform_png(signal, pred), "target, fit and their difference")),
            ("Spectrograms", H.figure(_spectrogram_png(signal, pred), "short-time Fourier transform magnitude "
                                      "(dB), target and fit, first channel"))]


def render(field, meta: dict, req: RenderRequest) -> Rendering:
    """Sample the fitted field at ``req.rate`` samples per second over the clip's duration -> a WAV."""
    sig = meta.get("signal") or {}
    n, rate = int(sig["shape"][0]), int(sig.get("sample_rate") or 0)
    if rate < 1:
        raise InrkitError("this audio checkpoint records no sample rate")
    new_rate = int(req.rate or rate)
    frames = max(1, int(round(n * new_rate / rate)))
    MAX_RENDER_SAMPLES.check(frames * int(sig.get("channels", 1)), f"a render at {new_rate:,} Hz")
    if req.what != "image":
        raise InrkitError(f"--what {req.what} is for images and volumes; an audio field renders its values")
    from ..train.progress import Counter

    chunk = req.chunk or 65_536  # evaluate_grid's default
    counter = Counter(f"render audio {new_rate:,} Hz", frames, req.progress and frames > chunk)  # block by block
    values = evaluate_grid(field, (frames,), tuple(tuple(b) for b in sig["bounds"]), chunk, counter)  # (frames, C)
    counter.close()
    lo, hi = sig["value_range"]
    samples = (values + 1.0) * ((hi - lo) / 2.0) + lo
    return Rendering(samples, f"audio-{new_rate}Hz", ".wav", lambda p: write_wav(p, samples, new_rate),
                     f"{frames:,} samples at {new_rate:,} Hz, {samples.shape[1]} channel(s)")


# ---- presets ------------------------------------------------------------------------------------

_SIREN = {"arch": "siren", "width": 256, "hidden_layers": 3, "w0": AUDIO_FIRST_W0}
_HASH = {"arch": "hash", "width": 64, "hidden_layers": 1, "hash": {"levels": 8, "features": 4, "min_res": 16}}
PRESETS = {  # FieldConfig / TrainConfig fields as plain dicts (signals sit below the configuration layer)
    # SIREN's audio recipe (Sitzmann 2020 sec. 4.1; explore_siren.ipynb: 3 x 256, lr 1e-4, whole clip per step).
    "reference": (_SIREN, {"steps": 1000, "lr": 1e-4, "batch_size": 0}),
    # the same network on random batches of 8,192 samples: the CPU form.
    "cpu": (_SIREN, {"steps": 1500, "lr": 1e-4, "batch_size": 8192}),
    # a 1-D multiresolution grid (Mueller 2022) whose finest level has two cells per sample, and a small MLP.
    "fast": (_HASH, {"steps": 2000, "lr": 1e-2, "batch_size": 16384, "schedule": "cosine"}),
    "tiny": ({**_HASH, "hash": {**_HASH["hash"], "levels": 4, "log2_table": 14}},
             {"steps": 200, "lr": 1e-2, "batch_size": 2048, "schedule": "cosine"}),
}

KIND = Kind("audio", SUFFIXES, load_audio, in_dim=1, presets=PRESETS, panels=panels, render=render,
            extra_metrics=_extra_metrics,
            describe="audio (WAV; FLAC/OGG with soundfile): t -> amplitude per channel")
