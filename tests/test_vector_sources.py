"""TextConfig.vectors_path as a gensim-data name: fetched once through gensim's downloader into
the data folder, then read like a local file. Offline: the tests write the gensim-data folder
(as gensim's downloader leaves it) and make every network call fail."""

import gzip
import json
import os

import gensim.downloader
import numpy as np
import pytest

from emokit.config import TextConfig
from emokit.data.text import Vocabulary
from emokit.data.vector_sources import is_gensim_data_name, resolve_vectors
from emokit.data.word_vectors import fold_word_vectors

NAME = "glove-test-gigaword-3"
VOCAB = Vocabulary.build([["happy", "happy", "sad", "angry", "unseen"]])
ROWS = {"the": [0.5, 0.5, 0.5], "happy": [1.0, 2.0, 3.0], "sad": [-1.0, 0.25, 0.4],
        "angry": [7.0, 8.0, 9.0]}


def write_gensim_data(base, name=NAME):
    """``<base>/<name>/<name>.gz`` (word2vec text, gzipped, as gensim-data ships GloVe) with its
    ``__init__.py``, and the ``information.json`` list cache, as gensim's downloader leaves them."""
    folder = base / name
    folder.mkdir(parents=True)
    text = f"{len(ROWS)} 3\n" + "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in ROWS.items())
    with gzip.open(folder / f"{name}.gz", "wt") as f:
        f.write(text)
    (folder / "__init__.py").write_text("def load_data(): ...\n")
    info = {"corpora": {}, "models": {name: {"file_name": f"{name}.gz", "parts": 1}}}
    (base / "information.json").write_text(json.dumps(info))
    return folder


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network for gensim's downloader; EMOKIT_DATA in tmp_path; no GENSIM_DATA_DIR."""
    def no_network(*args, **kwargs):
        raise OSError("no network in tests")

    monkeypatch.setattr(gensim.downloader, "urlopen", no_network)
    monkeypatch.setattr(gensim.downloader.urllib, "urlretrieve", no_network)
    monkeypatch.setenv("EMOKIT_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("GENSIM_DATA_DIR", raising=False)
    return tmp_path / "data"


def test_a_fetched_name_is_read_like_a_local_file(offline):
    write_gensim_data(offline / "gensim-data")
    matrix, coverage = fold_word_vectors([], VOCAB, TextConfig(vectors_path=NAME))
    assert matrix.shape == (len(VOCAB), 3)
    for word in ("happy", "sad", "angry"):
        np.testing.assert_allclose(matrix[VOCAB.index(word)], ROWS[word], rtol=1e-6)
    assert (coverage.types_found, coverage.missing) == (3, ["unseen"])


def test_the_archive_is_unpacked_once(offline):
    folder = write_gensim_data(offline / "gensim-data")
    first = resolve_vectors(NAME, offline)
    assert first.parent == folder and first.read_text().startswith("4 3\n")
    stamp = first.stat().st_mtime_ns
    os.utime(folder / f"{NAME}.gz")  # a second resolve must not unpack again
    assert resolve_vectors(NAME, offline) == first and first.stat().st_mtime_ns == stamp
    assert not list(folder.glob(".*.part"))


def test_a_missing_name_is_fetched_once_through_gensims_downloader_into_the_data_folder(
        offline, monkeypatch):
    """gensim's own ``load(name, return_path=True)`` runs, with its BASE_DIR pointed at
    ``<data>/gensim-data``; its network step is replaced by a writer of what it would fetch."""
    fetched = []

    def fake_download(name):
        fetched.append((name, gensim.downloader.BASE_DIR))
        write_gensim_data(offline / "gensim-data", name)

    monkeypatch.setattr(gensim.downloader, "_download", fake_download)
    base_before = gensim.downloader.BASE_DIR
    (offline / "gensim-data").mkdir(parents=True)
    (offline / "gensim-data" / "information.json").write_text(json.dumps(
        {"corpora": {}, "models": {NAME: {"file_name": f"{NAME}.gz", "parts": 1}}}))

    path = resolve_vectors(NAME, offline)
    assert path == offline / "gensim-data" / NAME / f"{NAME}.vectors" and path.exists()
    assert fetched == [(NAME, str(offline / "gensim-data"))]
    assert gensim.downloader.BASE_DIR == base_before  # put back
    assert resolve_vectors(NAME, offline) == path and len(fetched) == 1  # once


def test_an_unknown_name_says_what_vectors_path_takes(offline):
    (offline / "gensim-data").mkdir(parents=True)
    (offline / "gensim-data" / "information.json").write_text('{"corpora": {}, "models": {}}')
    with pytest.raises(ValueError, match=r"vectors_path='glove-nowhere-300' is neither a file "
                                         r"nor a gensim-data model.*gensim.downloader.info"):
        resolve_vectors("glove-nowhere-300", offline)


def test_gensim_data_dir_names_a_folder_you_already_have(offline, monkeypatch, tmp_path):
    folder = write_gensim_data(tmp_path / "my-gensim-data")
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path / "my-gensim-data"))
    assert resolve_vectors(NAME, offline).parent == folder


def test_files_stay_files(offline, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local = tmp_path / NAME  # a local file that happens to look like a name wins
    local.write_text("happy 1 2 3\n")
    assert resolve_vectors(NAME, offline) == local.relative_to(tmp_path)
    assert resolve_vectors("glove.840B.300d.txt", offline).name == "glove.840B.300d.txt"
    with pytest.raises(FileNotFoundError, match="vectors_path"):
        fold_word_vectors([], VOCAB, TextConfig(vectors_path="missing/glove.txt"))


@pytest.mark.parametrize("text, is_name", [
    ("glove-wiki-gigaword-300", True), ("word2vec-google-news-300", True),
    ("fasttext-wiki-news-subwords-300", True), ("glove.840B.300d.txt", False),
    ("/data/glove-wiki-gigaword-300", False), ("vectors.bin", False), ("glove", False)])
def test_what_reads_as_a_gensim_data_name(text, is_name):
    assert is_gensim_data_name(text) is is_name


def test_a_real_name_without_network_says_it_could_not_be_downloaded(offline):
    """No network and no cached list: not 'not a gensim-data model', but how to provide it."""
    from emokit.core.errors import DataError

    with pytest.raises(DataError, match=r"'glove-wiki-gigaword-50': the gensim-data model could "
                                        r"not be downloaded.*--download glove-wiki-gigaword-50"
                                        r".*copy its folder"):
        resolve_vectors("glove-wiki-gigaword-50", offline)


def test_vectors_without_a_word_of_the_vocabulary_are_refused_and_coverage_is_printed(
        tmp_path, capsys):
    from emokit.core.errors import DataError

    other = tmp_path / "other.txt"
    other.write_text("bonjour 1 2 3\nmerci 4 5 6\n")
    with pytest.raises(DataError, match=r"other.txt has a vector for none of the \d+ words"):
        fold_word_vectors([], VOCAB, TextConfig(vectors_path=str(other)))
    some = tmp_path / "some.txt"
    some.write_text("happy 1 2 3\nmerci 4 5 6\n")
    fold_word_vectors([], VOCAB, TextConfig(vectors_path=str(some)))
    assert "word vectors some.txt: vectors for 1/" in capsys.readouterr().out
