"""The persistent state: the TinyDB store and its settled history, the file's schema, its atomic
storage (in part files when large) and codec, backups, the locks, the roster of drafts kept
beside the state (``state.json.ledger``) and the ledger of the intent-first (exactly-once)
protocol for changes to Drafts (docs/development.md lists the modules).

Imports only ``daemon.core``. Imported by ``cycle`` and ``app``.
"""
