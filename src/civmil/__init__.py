"""civmil: civil-military coordination for peace operations."""

__version__ = "0.1.0"
