"""emokit.data.audio: decoding, mixing down, resampling, bad files, and the tensorflow-io decoder."""

import builtins
import sys

import numpy as np
import pytest
import soundfile as sf

from emokit.data import audio
from emokit.data.audio import AudioError, load_audio, tfio_status


def tone(freq=200.0, seconds=1.0, rate=16000, amplitude=0.3):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def wav(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(), 16000, subtype="PCM_16")
    return path


def test_mono_16k_file_loads_as_float32_samples(wav):
    wave = load_audio(wav)
    assert wave.dtype == np.float32 and wave.shape == (16000,)
    np.testing.assert_allclose(wave, tone(), atol=1e-4)  # 16-bit quantization only


def test_stereo_is_mixed_down(tmp_path):
    left, right = tone(200), tone(300, amplitude=0.1)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 22050, 44100])
def test_other_rates_are_resampled_keeping_duration_and_pitch(tmp_path, rate):
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(path, tone(440, seconds=0.5, rate=rate), rate, subtype="FLOAT")
    wave = load_audio(path, sample_rate=16000)
    assert wave.shape == (8000,) and wave.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * 16000 / len(wave) - 440) <= 2


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.wav"):
        load_audio(tmp_path / "nowhere.wav")


def test_corrupt_file_names_the_path_and_the_fix(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF" + np.random.default_rng(0).bytes(500))
    with pytest.raises(AudioError, match=r"corrupt\.wav is not a readable audio file.*re-export"):
        load_audio(path)


def test_empty_file_is_reported_as_empty(tmp_path):
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(AudioError, match=r"empty\.wav is empty \(0 bytes\)"):
        load_audio(path)


def test_wav_without_samples_is_refused(tmp_path):
    path = tmp_path / "nosamples.wav"
    sf.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match=r"nosamples\.wav holds no samples"):
        load_audio(path)


@pytest.mark.parametrize("level", [0.0, 1e-7])
def test_silent_file_is_refused(tmp_path, level):
    path = tmp_path / "silent.wav"
    sf.write(path, np.full(16000, level, np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"silent\.wav is silent"):
        load_audio(path)


def test_unknown_decoder_is_refused(wav):
    with pytest.raises(ValueError, match="unknown decoder 'ffmpeg'"):
        load_audio(wav, decoder="ffmpeg")


@pytest.mark.tfio
@pytest.mark.skipif(not tfio_status()[0], reason=f"tensorflow-io does not load: {tfio_status()[1]}")
@pytest.mark.parametrize("subtype, suffix", [("PCM_16", "wav"), ("PCM_16", "flac")])
def test_tfio_decoder_matches_soundfile(tmp_path, subtype, suffix):
    path = tmp_path / f"speech.{suffix}"
    sf.write(path, np.stack([tone(200), tone(330, amplitude=0.2)], axis=1), 16000, subtype=subtype)
    by_tfio = load_audio(path, decoder="tfio")
    assert by_tfio.dtype == np.float32 and by_tfio.shape == (16000,)
    np.testing.assert_allclose(by_tfio, load_audio(path), atol=1e-4)


@pytest.fixture
def broken_tfio(monkeypatch):
    """Make `import tensorflow_io` fail the way it does on TF >= 2.17 (an undefined symbol)."""
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "tensorflow_io" or name.startswith("tensorflow_io."):
            raise ImportError("libtensorflow_io.so: undefined symbol: _ZN10tensorflow8OpKernel")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "tensorflow_io", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing_import)
    audio._import_tfio.cache_clear()
    yield
    audio._import_tfio.cache_clear()


def test_tfio_status_reports_why_it_is_unavailable(broken_tfio):
    available, reason = tfio_status()
    assert not available
    assert "undefined symbol" in reason


def test_tfio_decoder_says_to_use_soundfile_when_unavailable(broken_tfio, wav):
    with pytest.raises(RuntimeError, match=r"tensorflow-io is unavailable \(ImportError: .*undefined "
                                           r"symbol.*\); use the default soundfile decoder"):
        load_audio(wav, decoder="tfio")
    assert load_audio(wav).shape == (16000,)  # the default decoder is unaffected


# ------------------------------------------------------------------------------- issue 10


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_refused_naming_the_file(tmp_path, bad):
    wave = tone()
    wave[1234] = bad
    path = tmp_path / "broken.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"broken\.wav holds 1 non-finite samples"):
        load_audio(path)


def test_absurd_float_samples_are_refused(tmp_path):
    path = tmp_path / "garbage.wav"
    sf.write(path, tone() * 1e6, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"garbage\.wav has samples up to .* not audio"):
        load_audio(path)


def test_wav_whose_data_chunk_is_shorter_than_its_header_says_is_refused(tmp_path, wav):
    data = wav.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    assert audio.wav_truncation(wav) is None
    with pytest.raises(AudioError, match=r"cut\.wav is truncated: its header says the audio data "
                                         r"holds 32000 bytes, the file holds 15978"):
        load_audio(cut)


def test_a_folder_is_not_an_audio_file(tmp_path):
    with pytest.raises(AudioError, match="is a folder, not an audio file"):
        load_audio(tmp_path)


@pytest.mark.parametrize("decoder", [
    "soundfile",
    pytest.param("tfio", marks=[pytest.mark.tfio, pytest.mark.skipif(
        not tfio_status()[0], reason=f"tensorflow-io does not load: {tfio_status()[1]}")]),
])
def test_max_seconds_reads_only_the_start(tmp_path, decoder):
    path = tmp_path / "three.wav"
    sf.write(path, tone(seconds=3.0), 16000, subtype="PCM_16")
    start = load_audio(path, max_seconds=1.25, decoder=decoder)
    assert start.shape == (20000,)
    np.testing.assert_array_equal(start, load_audio(path, decoder=decoder)[:20000])
    assert load_audio(path, max_seconds=10.0, decoder=decoder).shape == (48000,)
    assert audio.audio_seconds(path) == 3.0


def test_a_silent_start_is_named_as_the_part_that_was_read(tmp_path):
    path = tmp_path / "late.wav"
    sf.write(path, np.concatenate([np.zeros(32000, "float32"), tone(seconds=2.0)]), 16000)
    assert load_audio(path, max_seconds=3.0).shape == (48000,)
    with pytest.raises(AudioError, match=r"late\.wav \(its first 1\.5 s, all that is read\) is "
                                         r"silent"):
        load_audio(path, max_seconds=1.5)
