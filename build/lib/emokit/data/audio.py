"""Reading speech files into mono float32 waveforms.

The default decoder is ``soundfile`` (libsndfile: wav, flac, ogg; fast and available everywhere,
Colab included). ``decoder="tfio"`` reads through tensorflow-io's ``AudioIOTensor`` instead, where
tensorflow-io loads; ``tfio_status()`` says whether it does, and why not.

>>> import numpy as np, soundfile as sf, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
>>> sf.write(path, 0.1 * np.sin(np.arange(8000) / 5.0), 8000)
>>> load_audio(path, sample_rate=16000).shape
(16000,)
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from emokit.core.errors import DataError

SILENCE_RMS = 1e-5  # a waveform quieter than this (full scale = 1.0) holds no speech
MAX_PEAK = 100.0  # float samples beyond this (full scale = 1.0) are not audio but garbage
MIN_RATE, MAX_RATE = 4000, 384000  # sample rates of real recordings, Hz; beyond: a lying header
_PCM_BITS = {1: (8, 16, 24, 32), 3: (32, 64)}  # wav format tag -> bits per sample it can hold


class AudioError(DataError):
    """A speech file that cannot be used; the message names the file and the fix."""


def load_audio(path: str | Path, sample_rate: int = 16000, decoder: str = "soundfile",
               max_seconds: float | None = None) -> np.ndarray:
    """Read ``path`` as a mono float32 waveform ``(samples,)`` at ``sample_rate`` Hz.

    Stereo is mixed down; other rates are resampled with librosa (soxr). ``decoder`` is
    ``"soundfile"`` (default) or ``"tfio"``. ``max_seconds`` reads only the file's first
    ``max_seconds`` (only those samples are decoded: bounded memory, whatever the file's length;
    ``audio_seconds`` gives the whole length). Missing, unreadable, empty, truncated and silent
    files, and files with non-finite (NaN, inf) or absurd samples, raise :class:`AudioError` (or
    ``FileNotFoundError``) naming the file: the waveform returned is always finite.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"audio file {path} does not exist; check the manifest's wav column and the release root"
        )
    if path.is_dir():
        raise AudioError(f"{path} is a folder, not an audio file; pass the path of a wav file")
    truncated = wav_truncation(path) or wav_header_problem(path)
    if truncated:
        raise AudioError(f"{path} {truncated}; copy the file again from the release")
    if decoder == "soundfile":
        wave, rate = _decode_soundfile(path, max_seconds)
    elif decoder == "tfio":
        wave, rate = _decode_tfio(path, max_seconds)
    else:
        raise ValueError(f"unknown decoder {decoder!r}; use 'soundfile' or 'tfio'")
    cut = max_seconds is not None and len(wave) >= _frames_in(max_seconds, rate)
    name = f"{path} (its first {max_seconds:.1f} s, all that is read)" if cut else str(path)
    return _check_and_resample(wave, rate, sample_rate, path, name)


def audio_seconds(path: str | Path) -> float | None:
    """The length of the recording ``path`` in seconds, from its header (no sample is read), or
    ``None`` where the header does not tell (or soundfile cannot read the file)."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except RuntimeError:  # soundfile.LibsndfileError
        return None
    return info.frames / info.samplerate if info.frames > 0 and info.samplerate > 0 else None


def _frames_in(seconds: float | None, rate: int) -> int:
    """How many samples at ``rate`` Hz the first ``seconds`` hold (-1, all, for ``None``)."""
    return -1 if seconds is None else math.ceil(seconds * rate)


def tfio_status() -> tuple[bool, str]:
    """``(available, reason)`` for the tensorflow-io decoder; reason is "" when it loads."""
    try:
        _import_tfio()
    except Exception as e:  # noqa: BLE001 -- ImportError, or an undefined symbol (NotFoundError)
        return False, f"{type(e).__name__}: {e}".strip().splitlines()[0]
    return True, ""


def _decode_soundfile(path: Path, max_seconds: float | None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            rate = f.samplerate
            wave = f.read(_frames_in(max_seconds, rate), dtype="float32", always_2d=True)
    except RuntimeError as e:  # soundfile.LibsndfileError
        raise AudioError(_unreadable(path, e)) from None
    return wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0], rate


def _decode_tfio(path: Path, max_seconds: float | None) -> tuple[np.ndarray, int]:
    available, reason = tfio_status()
    if not available:
        raise RuntimeError(
            f"tensorflow-io is unavailable ({reason}); use the default soundfile decoder "
            f"(load_audio(path, decoder='soundfile'))"
        )
    tfio = _import_tfio()
    try:
        audio = tfio.audio.AudioIOTensor(str(path))  # lazy: a slice decodes only its samples
        rate = int(audio.rate.numpy())
        wave = (audio.to_tensor() if max_seconds is None
                else audio[: _frames_in(max_seconds, rate)]).numpy()
    except Exception as e:  # noqa: BLE001 -- tf.errors.OpError is not a RuntimeError
        raise AudioError(_unreadable(path, e)) from None
    if np.issubdtype(wave.dtype, np.integer):
        wave = wave.astype(np.float32) / np.iinfo(wave.dtype).max
    wave = wave.astype(np.float32).reshape(len(wave), -1)
    return wave.mean(axis=1), rate


@functools.lru_cache(maxsize=1)
def _import_tfio():
    import tensorflow_io

    return tensorflow_io


def _wav_chunks(f, size: int):
    """The chunks of an open RIFF/WAVE file ``f`` of ``size`` bytes, read from their headers only:
    ``(chunk id, declared size, offset of its header, byte order)`` in file order; nothing for a
    file that is not a wav."""
    head = f.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return
    order = "little" if head[:4] == b"RIFF" else "big"
    position = 12
    while position + 8 <= size:
        f.seek(position)
        chunk = f.read(8)
        declared = int.from_bytes(chunk[4:8], order)
        yield chunk[:4], declared, position, order
        position += 8 + declared + (declared & 1)


def wav_truncation(path: str | Path) -> str | None:
    """Why the RIFF/WAVE file ``path`` is cut short (its ``data`` chunk declares more bytes than
    the file holds), or ``None`` (not cut short, or not a wav). Only the chunk headers are read.

    Decoders read such a file without a word and return the samples that are there.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        for name, declared, position, _ in _wav_chunks(f, size):
            if name == b"data":
                available = size - position - 8
                if declared in (0, 0xFFFFFFFF) or declared <= available:  # 0/-1: left by streams
                    return None
                return (f"is truncated: its header says the audio data holds {declared} bytes, "
                        f"the file holds {available} ({available / declared:.0%})")
    return None


def wav_header_problem(path: str | Path) -> str | None:
    """Why the RIFF/WAVE header of ``path`` cannot be true (an implausible sample rate, a sample
    width no encoder writes), or ``None``. Only the ``fmt`` chunk is read; a non-wav is ``None``.

    Decoders believe such a header: 8 Hz turns a 1 s file into 2000 s, 7 bits read as 8.
    """
    path = Path(path)
    with open(path, "rb") as f:
        for name, declared, _, order in _wav_chunks(f, path.stat().st_size):
            if name == b"fmt ":
                fmt = f.read(min(declared, 16))
                if len(fmt) < 16:
                    return "has a wav header cut short (its fmt chunk)"
                tag = int.from_bytes(fmt[0:2], order)
                rate = int.from_bytes(fmt[4:8], order)
                bits = int.from_bytes(fmt[14:16], order)
                if not MIN_RATE <= rate <= MAX_RATE:
                    return (f"has a header claiming {rate} samples per second, which no "
                            f"recording has ({MIN_RATE}..{MAX_RATE}): a damaged header")
                if tag in _PCM_BITS and bits not in _PCM_BITS[tag]:
                    return (f"has a header claiming {bits} bits per sample, which no "
                            f"encoder writes (one of {list(_PCM_BITS[tag])}): a damaged header")
                return None
    return None


def _check_and_resample(wave: np.ndarray, rate: int, sample_rate: int, path: Path,
                        name: str) -> np.ndarray:
    """``wave`` at ``sample_rate``, checked; ``name`` says which part of ``path`` it is."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(f"{path} claims {rate} samples per second, which no recording has "
                         f"({MIN_RATE}..{MAX_RATE}); re-export it or remove its manifest row")
    if wave.size == 0:
        raise AudioError(f"{name} holds no samples; re-export it or remove its manifest row")
    finite = np.isfinite(wave)
    if not finite.all():
        first = int(np.argmin(finite))
        raise AudioError(
            f"{name} holds {int(wave.size - finite.sum())} non-finite samples (NaN or inf; the "
            f"first at {first / rate:.3f} s); re-export it or remove its manifest row"
        )
    peak = float(np.max(np.abs(wave)))
    if peak > MAX_PEAK:
        raise AudioError(
            f"{name} has samples up to {peak:.3g} times full scale, which is not audio (float "
            f"samples lie within -1..1); re-export it or remove its manifest row"
        )
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    if rms < SILENCE_RMS:
        raise AudioError(
            f"{name} is silent (RMS {rms:.1e} < {SILENCE_RMS:.0e}); check the recording or remove "
            f"its manifest row"
        )
    if rate != sample_rate:
        import librosa

        wave = librosa.resample(wave, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(wave, dtype=np.float32)


def _unreadable(path: Path, error: Exception) -> str:
    size = path.stat().st_size if path.is_file() else 0
    what = "is empty (0 bytes)" if size == 0 else "is not a readable audio file"
    return f"{path} {what} ({error}); re-export it as 16 kHz wav or remove its manifest row"
