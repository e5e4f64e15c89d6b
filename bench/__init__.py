"""Benchmark harness: `python -m bench [NAME ...]`. See bench/README.md."""
