"""Helpers shared by the command-line tests: the session history, and the speech corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "assistant"]


def history(db: Path) -> list[dict]:
    """`massage-assistant history --json` of a database."""
    result = subprocess.run(
        [*CLI, "history", "--json", "--db", str(db)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def speech_corpus() -> ModuleType:
    """benchmarks/corpus.py, which synthesises the therapist's speech (hibari-tts, espeak-ng)."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import corpus
    finally:
        sys.path.remove(str(ROOT))
    return corpus
