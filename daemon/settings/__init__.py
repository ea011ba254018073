"""The config file (``config``), its validation (``schema``, the only importer of pydantic), the
cache of validated configs (``configcache``) and the XDG folders (``paths``).

Imports only ``daemon.core`` (and, for validation, each connector's options model through the
registry). Imported by ``cycle`` and ``app``.
"""
