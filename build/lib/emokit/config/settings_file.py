"""Reading a settings file: the dict of a YAML (or JSON) file, or one clear error naming the file.

A syntax error, a file that is not UTF-8, a file that is not a mapping, and a key given twice (plain
YAML silently keeps the last one) are each a :class:`emokit.core.errors.ConfigError`.
"""

from __future__ import annotations

from pathlib import Path

from emokit.config.quoting import quote
from emokit.core.errors import ConfigError


def read_settings(path: str | Path) -> dict:
    """The settings dict of a YAML (or JSON) file; a syntax error or a file that is not a
    mapping is a :class:`ConfigError` naming the file."""
    import yaml

    path = Path(path).expanduser()
    if path.is_dir():
        raise ConfigError([f"{path} is a folder; pass a YAML config file"], str(path))
    try:
        with open(path) as f:
            data = yaml.load(f, Loader=_unique_key_loader()) or {}
    except yaml.YAMLError as e:
        raise ConfigError([f"not valid YAML: {_cap_text(' '.join(str(e).split()))}"],
                          str(path)) from None
    except UnicodeDecodeError as e:
        raise ConfigError([f"not UTF-8 text ({e.reason} at byte {e.start})"], str(path)) from None
    if not isinstance(data, dict):
        problem = ("expected a mapping of settings (`train: {epochs: 30}`), got "
                   f"{type(data).__name__}")
        raise ConfigError([problem], str(path))
    return data


def _unique_key_loader():
    """A ``yaml.SafeLoader`` that refuses a mapping setting one key twice (plain YAML keeps the
    last one silently), naming the key and both lines."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:
                    continue  # an unhashable key: construct_mapping reports it
                if first != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"the setting {quote(key)} is given twice (lines {first} "
                        f"and {key_node.start_mark.line + 1}): YAML would keep only the last "
                        "one; delete one of them", key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def _cap_text(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"
