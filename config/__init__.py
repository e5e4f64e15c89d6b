"""Typed configuration of smpp-bridge.

``config.schema`` declares the file (msgspec Structs, unknown keys forbidden);
``config.load`` is the only place that reads files and the environment.
"""

from config.load import ConfigError, LoadedConfig, Secret, load_config, parse_config
from config.schema import Config

__all__ = ["Config", "ConfigError", "LoadedConfig", "Secret", "load_config", "parse_config"]
