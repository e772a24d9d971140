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
    PAIN_LEVEL = "pain level"  # "pain level six": a pain score from 0 to 10
    NOTE = "note"  # record the next seconds of speech as a voice memo
    # The pain just reported was not: withdraw it. Heard only while a pain event is in hand.
    FALSE_ALARM = "false alarm"


VOICE_SETTING_INTENTS = frozenset({Intent.LOUDER, Intent.QUIETER, Intent.SLOWER, Intent.FASTER})

# Answers to the assistant's yes/no questions: listened for only while it waits for one, so a
# "yes" or "no" said to the patient during the massage is never taken for anything.
ANSWER_INTENTS = frozenset({Intent.YES, Intent.NO})
# Heard only after a pain event (Listening.PAIN_LEVEL), each from a section of its own.
AFTER_PAIN_INTENTS = frozenset({Intent.PAIN_LEVEL, Intent.FALSE_ALARM})
COMMAND_INTENTS = tuple(
    intent for intent in Intent if intent not in ANSWER_INTENTS and intent not in AFTER_PAIN_INTENTS
)
# The commands still listened for while a question waits. The fewer phrases compete with a
# short "no", the less often it is heard as something else ("help" took many a "no").
COMMANDS_DURING_QUESTIONS = frozenset({Intent.PAIN, Intent.STOP, Intent.REPEAT, Intent.BACK})


class Listening(str, Enum):
    """What the listener listens for; the session says which as its phase changes."""

    COMMANDS = "commands"
    ANSWERS = "answers"  # yes, no and a few commands: a question waits
    # The commands, "pain level N" and "false alarm": after a pain event, and when the session
    # is over. Not otherwise, so that "patient in pain" mid-massage is never taken for a pain
    # score, and nothing said in a session that went well is taken for a false alarm.
    PAIN_LEVEL = "pain level"
    # While a voice note records, only pain: the memo's words must not steer the session.
    NOTE = "note"
