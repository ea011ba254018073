"""The systemd user unit, shipped as package data (``daemon.systemd``) so that ``coffeechat
service install`` writes this very file with the command filled in."""
