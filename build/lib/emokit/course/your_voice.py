"""Try a trained model on your own voice: pick a recording, show its class probabilities.

On Colab the recording comes from the browser's microphone or an upload; locally from a file
path; with neither, from an utterance of the built-in corpus. ``plot_probabilities`` draws what
``emokit.predict`` returns.
"""

from __future__ import annotations

import base64
import dataclasses
import subprocess
import sys
from pathlib import Path

from emokit.core.paths import results_dir

COLAB_INPUTS = ("microphone", "upload")

_RECORD_JS = """
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const asDataUrl = blob => new Promise(resolve => {
  const reader = new FileReader(); reader.onloadend = () => resolve(reader.result);
  reader.readAsDataURL(blob);
});
var recordAudio = ms => new Promise(async resolve => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const recorder = new MediaRecorder(stream); const chunks = [];
  recorder.ondataavailable = e => chunks.push(e.data);
  recorder.onstop = async () => { stream.getTracks().forEach(t => t.stop());
                                  resolve(await asDataUrl(new Blob(chunks))); };
  recorder.start(); await sleep(ms); recorder.stop();
});
"""


@dataclasses.dataclass(frozen=True)
class Recording:
    """A recording to classify: its wav file, what is said in it, and where it came from."""

    wav: Path
    transcript: str
    origin: str  # "your file", "your microphone", "your upload" or "the built-in corpus"


def in_colab() -> bool:
    return "google.colab" in sys.modules


def get_recording(path=None, transcript: str | None = None, *, colab_input: str | None = None,
                  fallback: tuple[str | Path, str], seconds: float = 4.0) -> Recording:
    """The recording to try: the file at ``path`` if given; on Colab, with ``colab_input`` set to
    "microphone" or "upload", a new one; otherwise ``fallback``, a ``(wav, transcript)`` of the
    built-in corpus. ``transcript`` is what is said in your recording (asked for when missing)."""
    if path is not None:
        wav = Path(path).expanduser()
        if not wav.is_file():
            raise FileNotFoundError(f"{wav}: no such recording; set MY_RECORDING to a wav file's path")
        return Recording(wav, _transcript(transcript), "your file")
    if colab_input is not None:
        if colab_input not in COLAB_INPUTS:
            raise ValueError(f"colab_input={colab_input!r}: use one of {COLAB_INPUTS} or None")
        if not in_colab():
            raise RuntimeError("the microphone and upload work on Colab; locally set MY_RECORDING "
                               "to a wav file's path")
        folder = results_dir() / "my_voice"
        folder.mkdir(parents=True, exist_ok=True)
        if colab_input == "microphone":
            return Recording(record_microphone(folder / "recording.wav", seconds),
                             _transcript(transcript), "your microphone")
        return Recording(upload_recording(folder), _transcript(transcript), "your upload")
    wav, said = fallback
    return Recording(Path(wav), said, "the built-in corpus")


def _transcript(transcript: str | None) -> str:
    if transcript is None or not transcript.strip():
        if in_colab():
            transcript = input("What do you say in the recording? ")
        if transcript is None or not transcript.strip():
            raise ValueError("set MY_TRANSCRIPT to what you say in the recording: the model reads "
                             "the words too")
    return transcript


def record_microphone(wav: Path, seconds: float) -> Path:  # pragma: no cover - needs a browser
    """Record ``seconds`` of audio from the browser's microphone (Colab) into a 16 kHz mono wav."""
    from google.colab import output
    from IPython.display import Javascript, display

    display(Javascript(_RECORD_JS))
    print(f"recording {seconds:g} s: speak now")
    data_url = output.eval_js(f"recordAudio({int(seconds * 1000)})")
    webm = wav.with_suffix(".webm")
    webm.write_bytes(base64.b64decode(data_url.split(",", 1)[1]))
    _to_wav(webm, wav)
    return wav


def upload_recording(folder: Path) -> Path:  # pragma: no cover - needs a browser
    """Ask for a file upload (Colab) and convert it into a 16 kHz mono wav."""
    from google.colab import files

    name, content = next(iter(files.upload().items()))
    original = folder / Path(name).name
    original.write_bytes(content)
    wav = folder / "upload.wav"
    _to_wav(original, wav)
    return wav


def _to_wav(source: Path, wav: Path) -> None:  # pragma: no cover - needs ffmpeg (Colab has it)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(source), "-ac", "1", "-ar",
                    "16000", str(wav)], check=True)


NEAR_CHANCE = 0.1  # largest minus smallest probability below this: the chart says "near chance"


def is_near_chance(probabilities: dict[str, float], spread: float = NEAR_CHANCE) -> bool:
    """True when the class probabilities lie within ``spread`` of each other: no class wins."""
    values = list(probabilities.values())
    return max(values) - min(values) < spread


def caveats(probabilities: dict[str, float], report=None) -> list[str]:
    """What to keep in mind reading ``probabilities`` (``emokit.predict``'s dict): chance, how
    near it the spread is, and from ``report`` (``emokit.inference.input_report``) the words the
    model does not know, how much of the recording it heard, how the new voice was normalized."""
    chance = 1 / len(probabilities)
    spread = max(probabilities.values()) - min(probabilities.values())
    lines = [f"chance is {chance:.2f} ({len(probabilities)} classes); the probabilities span "
             f"{spread:.2f}" + (": near chance, no class wins" if is_near_chance(probabilities)
                                else "")]
    if report is not None:
        if report.unknown_words:
            lines.append(f"words the model does not know (read as <unk>): "
                         f"{', '.join(report.unknown_words)}")
        if report.cut:
            lines.append(f"the recording was cut: the model heard its first "
                         f"{report.seconds_used:.1f} s of {report.seconds:.1f} s "
                         f"(max_frames={report.max_frames})")
        lines.append(f"your voice was normalized {report.normalization}")
    return lines


def plot_probabilities(probabilities: dict[str, float], title: str = "", ax=None, report=None):
    """A bar chart of ``{class name: probability}`` (what ``emokit.predict`` returns) with each
    bar's number and the chance line; the top class is marked only when it stands out (see
    ``is_near_chance``). ``report`` (``emokit.inference.input_report``) adds its caveats under
    the chart."""
    import matplotlib.pyplot as plt

    lines = caveats(probabilities, report)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 2.8 + 0.25 * len(lines)), constrained_layout=True)
    names = list(probabilities)
    bars = ax.bar(names, [probabilities[n] for n in names], color="tab:blue")
    near = is_near_chance(probabilities)
    if not near:
        best = max(names, key=probabilities.get)
        bars[names.index(best)].set_color("tab:orange")
    ax.bar_label(bars, fmt="%.2f")
    chance = 1 / len(names)
    ax.axhline(chance, color="grey", linestyle="--", linewidth=1)
    ax.text(len(names) - 0.5, chance, " chance", va="bottom", ha="right", color="grey")
    ax.set(ylim=(0, 1), ylabel="probability",
           title=title + (" (near chance)" if near else ""))
    ax.set_xlabel("\n".join(lines), loc="left", fontsize=8)
    return ax
