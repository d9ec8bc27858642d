"""Services of the comms app: the only code in comms that writes."""
