"""Two hours of audio through one listener, faster than real time, with memory staying flat."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from recorded import speech_corpus

from assistant.intents import Intent
from assistant.listening import Listener

RATE = 16000
BLOCK_SECONDS = 60
HOURS = 2.0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_two_hours_of_session_audio(tmp_path: Path) -> None:
    corpus = speech_corpus()
    therapist = next(s for s in corpus.SPEAKERS if s.name == "hibari")
    commands = [
        ("next please", Intent.NEXT),
        ("patient in pain", Intent.PAIN),
        ("how many left", Intent.STATUS),
    ]
    talk = list(corpus.THERAPIST_SENTENCES[:6])
    speech = {text: corpus.synthesize(text, therapist) * 0.5 for text, _ in commands}
    speech.update({text: corpus.synthesize(text, therapist) * 0.5 for text in talk})
    rng = np.random.default_rng(7)
    pink = corpus._pink(BLOCK_SECONDS * RATE, rng)

    def block(index: int) -> tuple[np.ndarray, Intent]:
        """A minute of background (silence or soft noise) with one sentence and one command."""
        text, intent = commands[index % len(commands)]
        level = 0.0005 if index % 2 else 0.01  # a quiet room, then a noisier one
        audio = pink * level
        sentence = speech[talk[index % len(talk)]]
        audio[10 * RATE : 10 * RATE + len(sentence)] += sentence
        audio[40 * RATE : 40 * RATE + len(speech[text])] += speech[text]
        return np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16), intent

    listener = Listener(vosk_model=None)
    blocks = int(HOURS * 3600 / BLOCK_SECONDS)
    heard: list[tuple[int, Intent]] = []
    expected: list[Intent] = []
    memory: list[float] = []
    started = time.monotonic()
    for index in range(blocks):
        audio, intent = block(index)
        expected.append(intent)
        for offset in range(0, len(audio), 480):
            for decision in listener.feed(audio[offset : offset + 480]):
                if decision.command is not None:
                    heard.append((int(decision.start // BLOCK_SECONDS), decision.command))
        memory.append(_rss_mb())
    elapsed = time.monotonic() - started

    assert listener.stream_time == blocks * BLOCK_SECONDS  # the stream clock never drifts
    assert elapsed < HOURS * 3600 / 10, f"{elapsed:.0f} s for {HOURS} h of audio"
    # Every command heard in its own minute, and no sentence of conversation obeyed.
    assert len(heard) == len(set(block for block, _ in heard))
    correct = sum(expected[block] is intent for block, intent in heard)
    assert correct >= 0.95 * blocks, (correct, blocks)
    assert len(heard) - correct <= 0.02 * blocks
    # Memory is flat once the engine has warmed up.
    assert max(memory[10:]) - memory[10] < 8.0, memory[10::10]
