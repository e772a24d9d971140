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
    YES = "yes"
    NO = "no"


VOICE_SETTING_INTENTS = frozenset({Intent.LOUDER, Intent.QUIETER, Intent.SLOWER, Intent.FASTER})

# Answers to the assistant's yes/no questions: listened for only while it waits for one, so a
# "yes" or "no" said to the patient during the massage is never taken for anything.
ANSWER_INTENTS = frozenset({Intent.YES, Intent.NO})
COMMAND_INTENTS = tuple(intent for intent in Intent if intent not in ANSWER_INTENTS)
# The commands still listened for while a question waits. The fewer phrases compete with a
# short "no", the less often it is heard as something else ("help" took many a "no").
COMMANDS_DURING_QUESTIONS = frozenset({Intent.PAIN, Intent.STOP, Intent.REPEAT, Intent.BACK})
