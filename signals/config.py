"""Loading the signals rule files (TOML) with unknown-key checks.

The defaults ship inside the package (``signals/themes.toml``, ``roles.toml``,
``matching.toml``); ``configs/`` in the repository holds identical copies for users to edit and
pass explicitly (a test keeps the copies in step).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

from backtests.core.errors import ConfigError, did_you_mean

PACKAGE_DIR = Path(__file__).resolve().parent


def default_path(name: str) -> Path:
    """Path of a packaged default rule file (``"themes"``, ``"roles"`` or ``"matching"``)."""
    return PACKAGE_DIR / f"{name}.toml"


def load_toml(path: str | os.PathLike | None, name: str, known: tuple[str, ...]) -> tuple[dict, str]:
    """Read a rule file (the packaged default when ``path`` is None); return ``(doc, label)``.

    Unknown top-level keys raise :class:`ConfigError` with a suggestion.
    """
    p = Path(path) if path is not None else default_path(name)
    try:
        # utf-8-sig: a BOM (Windows Notepad saves one) is not part of the TOML text
        doc = tomllib.loads(p.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{name} rules file {p} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{name} rules file {p} is a directory; expected a TOML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text (byte {exc.start}); save the {name} rules file "
                          "as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{name} rules file {p}: cannot read it "
                          f"({exc.strerror or exc})") from None
    for key in doc:
        if key not in known:
            raise ConfigError(f"{p}: unknown key {key!r}{did_you_mean(key, known)}; "
                              f"known: {', '.join(known)}")
    return doc, str(p)


def string_list(doc: dict, key: str, label: str, *, default=()) -> tuple[str, ...]:
    """``doc[key]`` as a tuple of strings (a single string is accepted)."""
    value = doc.get(key, default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{label}: {key} = {value!r}: expected a list of strings")
    return tuple(value)
