"""Audio signals: WAV readers and writers at every bit depth, soundfile formats, limits, bad files."""

from __future__ import annotations

import wave

import numpy as np
import pytest
import torch

from inrkit import coords as C
from inrkit.errors import InrkitError
from inrkit.signals import kinds as K
from inrkit.signals.audio import load_audio, read_wav, signal_from_samples, snr_db, wav_bytes, write_wav


def _clip(n=1000, channels=2, rate=8000):
    t = np.arange(n) / rate
    x = np.stack([0.6 * np.sin(2 * np.pi * 440 * t), 0.4 * np.cos(2 * np.pi * 97 * t + 0.3)], -1)[:, :channels]
    return x.astype(np.float32)


@pytest.mark.parametrize("bits, tol", [(8, 1 / 128), (16, 1 / 32768), (24, 1 / 2**23), (32, 1 / 2**31),
                                       ("float", 1e-7)])
def test_wav_round_trip_every_bit_depth(tmp_path, bits, tol):
    x = _clip()
    p = tmp_path / f"a{bits}.wav"
    write_wav(p, x, 8000, bits)
    y, rate, info = read_wav(p)
    assert rate == 8000 and y.shape == x.shape and y.dtype == np.float32
    assert np.abs(y - x).max() <= tol * 0.51 + 1e-7  # quantisation: half a step
    if bits != "float":
        assert info["bit_depth"] == bits
        with wave.open(str(p)) as w:  # the standard library reads what we wrote
            assert (w.getsampwidth(), w.getnchannels(), w.getnframes()) == (bits // 8, 2, 1000)


def test_pcm_full_scale_values_are_exact(tmp_path):
    """-32768 -> -1 exactly, 32767 -> 1 - 2^-15; 8-bit 0 -> -1, 128 -> 0."""
    raw = np.array([-32768, 0, 32767], "<i2").tobytes()
    with wave.open(str(tmp_path / "s.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(100), w.writeframes(raw)
    y, _, _ = read_wav(tmp_path / "s.wav")
    assert y[:, 0].tolist() == [-1.0, 0.0, 32767 / 32768]
    with wave.open(str(tmp_path / "u.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(1), w.setframerate(100), w.writeframes(bytes([0, 128, 255]))
    y, _, _ = read_wav(tmp_path / "u.wav")
    assert y[:, 0].tolist() == [-1.0, 0.0, 127 / 128]


def test_flac_and_ogg_through_soundfile(tmp_path):
    sf = pytest.importorskip("soundfile")
    x = _clip(4000, 1)
    sf.write(tmp_path / "a.flac", x, 8000, subtype="PCM_16")
    s = load_audio(tmp_path / "a.flac")
    assert s.shape == (4000,) and s.info["sample_rate"] == 8000
    assert np.abs(s.values[:, 0] - x[:, 0]).max() < 1e-4
    sf.write(tmp_path / "a.ogg", x, 8000)
    s = load_audio(tmp_path / "a.ogg")
    assert s.channels == 1 and abs(s.shape[0] - 4000) < 1000


def test_signal_coordinates_and_meta(tmp_path):
    write_wav(tmp_path / "m.wav", _clip(500, 2), 16000, 16)
    s = load_audio(tmp_path / "m.wav")
    assert s.kind == "audio" and s.shape == (500,) and s.channels == 2 and s.bounds == ((-1.0, 1.0),)
    idx = torch.tensor([0, 1, 499])
    assert torch.allclose(s.coords(idx)[:, 0], C.axis(500)[idx])
    meta = s.meta()
    assert meta["kind"] == "audio" and meta["sample_rate"] == 16000 and meta["value_range"] == [-1.0, 1.0]
    assert meta["bounds"] == [[-1.0, 1.0]] and abs(meta["seconds"] - 500 / 16000) < 1e-12
    assert torch.allclose(s.targets(idx), torch.as_tensor(s.values[idx.numpy()]))


def test_suffix_picks_the_kind():
    assert K.kind_of("x.wav").name == "audio" and K.kind_of("x.FLAC").name == "audio"
    assert K.kind_of("camera").name == "image" and K.kind_of("x.png").name == "image"
    assert K.kind_of("x.png", "audio").name == "audio"
    with pytest.raises(InrkitError, match="unknown signal kind"):
        K.kind_of("x.wav", "smell")


def test_snr():
    x = np.sin(np.linspace(0, 10, 1000))
    assert snr_db(x, x) == float("inf")
    assert abs(snr_db(x + 0.01 * x, x) - 40.0) < 1e-9


@pytest.mark.parametrize("data, needle", [
    (b"", "empty"),
    (b"RIFF\x00\x00\x00\x00WAVEjunk", "without a format chunk"),
    (b"not a wav at all, just text", "not a WAV file"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00"
     b"data\x00\x00\x00\x00", "no audio samples"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x07\x00\x01\x00\x40\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00"
     b"data\x04\x00\x00\x00\x00\x00\x00\x00", "format 7 is not supported"),
])
def test_bad_wav_files_are_one_line_errors(tmp_path, data, needle):
    p = tmp_path / "bad.wav"
    p.write_bytes(data)
    with pytest.raises(InrkitError, match=needle):
        load_audio(p)


def test_sample_limit_is_checked_from_the_header(tmp_path, monkeypatch):
    """A header declaring many samples is refused before any is decoded (the data chunk is not read)."""
    write_wav(tmp_path / "big.wav", np.zeros((5000, 2)), 8000, 16)
    monkeypatch.setenv("INRKIT_MAX_AUDIO_SAMPLES", "9999")
    with pytest.raises(InrkitError, match="10,000 samples.*INRKIT_MAX_AUDIO_SAMPLES"):
        load_audio(tmp_path / "big.wav")
    monkeypatch.setenv("INRKIT_MAX_AUDIO_SAMPLES", "10000")
    assert load_audio(tmp_path / "big.wav").shape == (5000,)


def test_truncated_data_chunk_reads_what_is_there(tmp_path):
    data = wav_bytes(_clip(1000, 1), 8000, 16)
    (tmp_path / "t.wav").write_bytes(data[:44 + 2 * 600 + 1])
    assert load_audio(tmp_path / "t.wav").shape == (600,)


def test_signal_from_samples_refuses_nonsense():
    with pytest.raises(InrkitError):
        signal_from_samples(np.zeros((0, 1)), 8000)
    with pytest.raises(InrkitError):
        signal_from_samples(np.zeros(10), 0)
