"""ragqa — ask a codebase; answers link back to the exact lines on GitHub."""

__version__ = "0.2.0"
