"""Template tags and filters shared by every civmil template (``{% load civmil %}``)."""
