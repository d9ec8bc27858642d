"""Queries of the comms app: every read of a thread or notification goes through the access policy."""
