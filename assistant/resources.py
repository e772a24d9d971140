"""Where the built-in protocols and voices live, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    # An editable install or a plain checkout keeps the data beside the package.
    return _PACKAGE_DIR.parent / name


def protocols_dir() -> Path:
    return _data_dir("protocols")


def voices_dir() -> Path:
    return _data_dir("voices")
