"""The default email templates, shipped with coffeechat as the package ``daemon.templates``."""
