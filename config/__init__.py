"""Settings and the default retention policy; imports nothing of ours."""
from config.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "load_settings"]
