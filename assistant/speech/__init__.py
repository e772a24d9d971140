"""Speech output: text to audio, and audio to a speaker or a WAV timeline."""
