"""The persistent state: the TinyDB store, its atomic storage and codec, backups, the locks and
the ledger of the intent-first (exactly-once) protocol.

Imports only ``daemon.core``. Imported by ``cycle`` and ``app``.
"""
