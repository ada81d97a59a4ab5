"""putdesk configuration: pydantic models, YAML loader with precise errors, shipped defaults."""

from config.loader import ConfigError, load_config, load_nakedtrader_config
from config.models import PutdeskConfig

__all__ = ["ConfigError", "PutdeskConfig", "load_config", "load_nakedtrader_config"]
