"""Setting up the ears: the listener and its audio source for `run`, and the `listen` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from assistant.datafile import DataFileError
from assistant.listening import Decision, Listener
from assistant.listening.echo import EchoCanceller
from assistant.listening.microphone import InputLost, Microphone
from assistant.listening.sources import FileSource
from assistant.runner import Notice
from assistant.vocabulary import CommandVocabulary
from assistant.voice_input import AudioSource, VoiceEvent, VoiceInput


class ListeningUnavailable(Exception):
    """The recogniser or the audio source cannot be used; str() says why and what to do."""


def _listener(args: argparse.Namespace, vocabulary: CommandVocabulary | None = None) -> Listener:
    try:
        return Listener(vocabulary, vosk_model=args.vosk_model)
    except DataFileError:
        raise
    except (OSError, ValueError, RuntimeError) as error:
        raise ListeningUnavailable(f"the speech recogniser could not start: {error}") from None


def _source(
    args: argparse.Namespace, on_warning: Callable[[str], None], realtime: bool
) -> AudioSource:
    if args.audio_file is not None:
        try:
            return FileSource(args.audio_file, realtime=realtime)
        except (OSError, RuntimeError) as error:
            raise ListeningUnavailable(f"cannot read {args.audio_file}: {error}") from None
    microphone = Microphone(args.input_device, on_warning=on_warning)
    try:
        microphone.open()
        microphone.describe()
    except InputLost as error:
        microphone.close()
        raise ListeningUnavailable(f"{error}; connect one or pick it with --input-device") from None
    return microphone


def _listening_to(listener: Listener, source: AudioSource) -> str:
    """The start-up line that says which engine listens, why, to what, and whether a noisy
    room is turned down first."""
    denoising = (
        "RNNoise turns the room down while it is noisy"
        if listener.denoises_noisy_rooms
        else "noise is not turned down (RNNoise is not installed)"
    )
    return (
        f"Listening with {listener.choice.name} ({listener.choice.reason}) to "
        f"{source.describe()}; {denoising}."
    )


def open_voice_input(
    args: argparse.Namespace,
    post: Callable[[VoiceEvent | Notice], None],
    vocabulary: CommandVocabulary,
) -> VoiceInput | None:
    """Spoken commands for a session, or None after one line saying why commands are typed instead."""
    try:
        listener = _listener(args, vocabulary)
        source = _source(args, lambda warning: post(Notice(warning)), realtime=True)
    except ListeningUnavailable as error:
        print(f"Not listening: {error}. Type the commands instead.", file=sys.stderr)
        return None
    print(_listening_to(listener, source), flush=True)
    # A recording does not hear the loudspeaker: there is no echo in it to take out.
    cancel = args.audio_file is None and not getattr(args, "no_echo_cancel", False)
    return VoiceInput(source, listener, post, echo=EchoCanceller() if cancel else None)


def decision_json(decision: Decision) -> str:
    return json.dumps(
        {
            "command": decision.command.value if decision.command else None,
            "text": decision.text,
            "start": round(decision.start, 3),
            "end": round(decision.end, 3),
            "emitted_at": round(decision.emitted_at, 3),
            "confidence": round(decision.confidence, 3),
            **({"rejected": decision.reason} if decision.reason else {}),
        }
    )


def decision_line(decision: Decision) -> str:
    span = f"{decision.start:7.2f}-{decision.end:.2f} s"
    if decision.command is None:
        return f"{span}  (ignored: {decision.text or '...'}, {decision.reason})"
    return (
        f"{span}  {decision.command.value:8} {decision.text!r} confidence {decision.confidence:.2f}"
    )


def listen_command(args: argparse.Namespace) -> int:
    """Print each recognised command as it is decided, from a recording or the microphone."""
    try:
        listener = _listener(args)
        source = _source(
            args, lambda warning: print(f"! {warning}", file=sys.stderr, flush=True), realtime=False
        )
    except ListeningUnavailable as error:
        print(f"massage-assistant: {error}", file=sys.stderr)
        return 1
    print(_listening_to(listener, source), file=sys.stderr, flush=True)
    show = decision_json if args.json else decision_line

    def emit(decisions: list[Decision]) -> None:
        for decision in decisions:
            if decision.accepted or args.rejected:
                print(show(decision), flush=True)

    try:
        for chunk in source.chunks():
            emit(listener.feed(chunk))
        emit(listener.flush())
    except InputLost as error:
        print(f"massage-assistant: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        source.close()
    return 0


def vosk_model_command(args: argparse.Namespace) -> int:
    """Say which engine would listen and why; with --download let vosk fetch a model (online)."""
    from assistant.listening import choose_engine, download_vosk_model

    if args.download:
        try:
            path = download_vosk_model(args.download)
        except Exception as error:  # vosk raises plain exceptions for every network failure
            print(
                f"massage-assistant: vosk could not download {args.download} ({error}); "
                "without a network, copy an unpacked model folder and use --vosk-model PATH",
                file=sys.stderr,
            )
            return 1
        print(f"vosk model ready: {path}")
        return 0
    choice = choose_engine(args.vosk_model)
    print(f"{choice.name}: {choice.reason}")
    return 0
