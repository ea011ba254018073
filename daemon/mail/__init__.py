"""The email itself: template variables, the sandboxed renderer, prep notes and the RFC 5322
message with its read-back check, all within bounded sizes.

Imports only ``daemon.core``. Imported by ``cycle`` and ``app``.
"""
