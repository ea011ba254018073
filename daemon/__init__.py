"""coffeechat's core: everything but the connectors, in wings stacked one way.

From top to bottom, each wing may import only the wings below it, never one beside or above:

1. ``app``: the command line, the service loop, read-outs, doctor, demo, the systemd unit.
2. ``cycle``: one cycle: sync, reconcile, plan, check replies, write drafts; idle cycles.
3. ``plan``, ``mail`` and ``state``, side by side and independent of each other: the pure
   rules, the rendered message, and the persistent state with its exactly-once ledger.
4. ``settings``: the config file, its schema and cache, and the XDG paths.
5. ``core``: the model, errors, time, text and tagging rules that everything shares. It is the
   only part of ``daemon`` that ``connectors`` import.

``tests/test_layout.py`` fails when an import breaks this order.
"""
