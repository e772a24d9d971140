"""The commands a therapist can give, by voice or keyboard."""

from __future__ import annotations

from enum import Enum


class Intent(str, Enum):
    NEXT = "next"
    REPEAT = "repeat"
    BACK = "back"
    SKIP = "skip"
    PAUSE = "pause"
    RESUME = "resume"
    PAIN = "pain"
    STATUS = "status"
    STOP = "stop"
    HELP = "help"
    LOUDER = "louder"
    QUIETER = "quieter"
    SLOWER = "slower"
    FASTER = "faster"


VOICE_SETTING_INTENTS = frozenset({Intent.LOUDER, Intent.QUIETER, Intent.SLOWER, Intent.FASTER})
