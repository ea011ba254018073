"""One cycle of work (``run``): sync each account, reconcile drafts already written, plan,
check replies, write drafts through the ``executor``; idle cycles, pacing and the health file.

Imports ``plan``, ``mail``, ``state``, ``settings`` and ``core``. Imported only by ``app``.
"""
