"""Typed configuration of smpp-bridge."""
