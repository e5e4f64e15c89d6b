"""smpp-bridge: the SMPP 3.4 carrier-bridge daemon."""
