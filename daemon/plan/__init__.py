"""The planner: which draft is due, for whom, when, and why (a pure function of the stored
meetings, the user's choices and ``now``), and which history can be settled.

Imports only ``daemon.core``. Imported by ``cycle`` and ``app``.
"""
