"""A throwaway PulseAudio server with a virtual speaker and microphone, for machines without
a sound card (tests, benchmarks, headless demos).

The speaker is the null sink "spk" (record it from "spk.monitor"); the microphone is the
source "mic", which hears whatever is played into the null sink "micsink".
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

SPEAKER_SINK = "spk"
MIC_SINK = "micsink"
MIC_SOURCE = "mic"

_REQUIRED_TOOLS = ("pulseaudio", "pactl", "parecord", "paplay")


class PulseAudioError(Exception):
    """The private server could not be started or used; str() says why."""


def missing_tools() -> list[str]:
    """The PulseAudio programs this module needs that are not on PATH."""
    return [tool for tool in _REQUIRED_TOOLS if shutil.which(tool) is None]


def rescan_portaudio() -> None:
    """Make sounddevice see the current audio servers (PortAudio lists devices only at start)."""
    sd = sys.modules.get("sounddevice")
    if sd is None:
        return
    sd._terminate()
    sd._initialize()


class PrivatePulseAudio:
    """Start with start() (or `with`), point this process at it with activate()."""

    def __init__(self) -> None:
        self.runtime_dir: Path | None = None
        self._saved_env: dict[str, str | None] = {}
        self._active = False

    @property
    def env(self) -> dict[str, str]:
        """Environment for programs that should talk to this server."""
        if self.runtime_dir is None:
            raise PulseAudioError("the private PulseAudio server is not running")
        env = dict(os.environ)
        env["XDG_RUNTIME_DIR"] = str(self.runtime_dir)
        # Keeps the server off the user's own ~/.config/pulse (cookie, daemon.conf).
        env["XDG_CONFIG_HOME"] = str(self.runtime_dir / "config")
        env.pop("PULSE_SERVER", None)
        return env

    def start(self, timeout: float = 10.0) -> None:
        missing = missing_tools()
        if missing:
            raise PulseAudioError(
                f"{', '.join(missing)} not found: sudo apt-get install pulseaudio pulseaudio-utils"
            )
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="massage-assistant-pulse-"))
        self.runtime_dir.chmod(0o700)
        (self.runtime_dir / "config").mkdir(mode=0o700)
        command = [
            "pulseaudio",
            "--daemonize=yes",
            "--no-cpu-limit",
            "-n",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--use-pid-file=yes",
            "--load=module-native-protocol-unix auth-anonymous=1",
            f"--load=module-null-sink sink_name={SPEAKER_SINK}",
            f"--load=module-null-sink sink_name={MIC_SINK}",
            f"--load=module-remap-source source_name={MIC_SOURCE} master={MIC_SINK}.monitor",
        ]
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            reason = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.returncode}"]
            self._remove_runtime_dir()
            raise PulseAudioError(f"pulseaudio did not start: {reason[0]}")
        deadline = time.monotonic() + timeout
        while self._pactl("info").returncode != 0:
            if time.monotonic() > deadline:
                self.stop()
                raise PulseAudioError("pulseaudio started but does not answer pactl")
            time.sleep(0.05)
        self._pactl("set-default-sink", SPEAKER_SINK)
        self._pactl("set-default-source", MIC_SOURCE)

    def _pactl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pactl", *args], env=self.env, capture_output=True, text=True, check=False
        )

    def activate(self) -> None:
        """Point this process (and sounddevice) at the server until deactivate()."""
        if self._active:
            return
        env = self.env
        for name in ("XDG_RUNTIME_DIR", "PULSE_SERVER"):
            self._saved_env[name] = os.environ.get(name)
        os.environ["XDG_RUNTIME_DIR"] = env["XDG_RUNTIME_DIR"]
        os.environ.pop("PULSE_SERVER", None)
        self._active = True
        rescan_portaudio()

    def deactivate(self) -> None:
        if not self._active:
            return
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        self._active = False
        rescan_portaudio()

    @contextmanager
    def record_speaker(self, path: Path | str, sample_rate: int = 22050) -> Iterator[None]:
        """Record everything played to the speaker sink into a mono 16-bit WAV at `path`."""
        process = subprocess.Popen(
            [
                "parecord",
                f"--device={SPEAKER_SINK}.monitor",
                "--file-format=wav",
                "--format=s16le",
                "--channels=1",
                f"--rate={sample_rate}",
                "--latency-msec=10",
                str(path),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            # parecord has no "ready" signal; wait for it to create the file.
            deadline = time.monotonic() + 5.0
            while not Path(path).exists() and process.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            time.sleep(0.1)
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise PulseAudioError(f"parecord failed: {error.strip()}")
            yield
        finally:
            if process.poll() is None:
                # SIGINT lets parecord finish the WAV header.
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stderr:
                process.stderr.close()

    def play_into_mic(self, wav_path: Path | str) -> None:
        """Play a WAV file into the virtual microphone and wait until it has been played."""
        result = subprocess.run(
            ["paplay", f"--device={MIC_SINK}", str(wav_path)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PulseAudioError(f"paplay failed: {result.stderr.strip()}")

    def stop(self) -> None:
        """Kill the server and remove its runtime directory."""
        self.deactivate()
        if self.runtime_dir is None:
            return
        pid_file = self.runtime_dir / "pulse" / "pid"
        pid = None
        with suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().split()[0])
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True, check=False)
        if pid is not None:
            deadline = time.monotonic() + 5.0
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._remove_runtime_dir()

    def _remove_runtime_dir(self) -> None:
        if self.runtime_dir is not None:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
            self.runtime_dir = None

    def __enter__(self) -> PrivatePulseAudio:
        self.start()
        try:
            self.activate()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
