"""GSM-7 / UCS-2 segmentation of SMS text (pure: no I/O)."""
