"""Configuration: ``onepipe.yaml`` resolved once into a typed ``Settings``."""

from onepipe.config.loader import CONFIG_NAME, find_config, load_settings
from onepipe.config.settings import Settings

__all__ = ["CONFIG_NAME", "Settings", "find_config", "load_settings"]
