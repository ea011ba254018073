"""The persistent state: the TinyDB store, its atomic storage and codec, backups, the locks, the
roster of drafts kept beside the state (``state.json.ledger``) and the ledger of the
intent-first (exactly-once) protocol for changes to Drafts.

Imports only ``daemon.core``. Imported by ``cycle`` and ``app``.
"""
