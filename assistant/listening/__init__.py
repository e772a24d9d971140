"""Listening for spoken commands: engines, endpointing and the accept-or-reject decision."""

from assistant.listening.engines import (
    VOSK_MODEL_ENV,
    EngineChoice,
    Hypothesis,
    choose_engine,
    download_vosk_model,
    find_vosk_model,
)
from assistant.listening.listener import (
    Decision,
    Listener,
    ListenerSettings,
    SpeakingInterval,
    listen_to_file,
    listen_to_samples,
    read_audio,
)

__all__ = [
    "VOSK_MODEL_ENV",
    "Decision",
    "EngineChoice",
    "Hypothesis",
    "Listener",
    "ListenerSettings",
    "SpeakingInterval",
    "choose_engine",
    "download_vosk_model",
    "find_vosk_model",
    "listen_to_file",
    "listen_to_samples",
    "read_audio",
]
