"""The shared ground: the model (meetings, drafts, changes) and a stored meeting as the
planner reads it (``facts``), errors, time and working hours,
text cleaning, tagging rules, links, auto-reply detection, atomic file writes and what a
calendar could not give.

Pure and dependency-free within coffeechat: imports nothing from another wing. Every wing and
every connector may import it; connectors import nothing else of ``daemon``.
"""
