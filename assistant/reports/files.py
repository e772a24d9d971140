"""Writing files that hold patient data: readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path


def private_folder(path: Path) -> Path:
    """Create the folder (and missing parents) for the owner only; existing folders are left as they are."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
        # mkdir's mode is filtered by the umask; the folder must end up 0700 whatever it is.
        os.chmod(folder, 0o700)
    return path


def write_private(path: Path, content: str | bytes) -> Path:
    """Write the file as 0600, tightening the rights of a file that was already there."""
    private_folder(path.parent)
    data = content.encode("utf-8") if isinstance(content, str) else content
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        view = memoryview(data)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
    finally:
        os.close(descriptor)
    return path
