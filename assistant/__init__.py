"""massage-assistant: an offline, hands-free, voice-guided session assistant for therapeutic massage."""

__version__ = "0.1.0"
