"""synth: offline evidence synthesis for education."""

__version__ = "0.1.0"
