"""The connector contract suite: behaviour every connector must show, written once.

``calendar_contract.CalendarContract`` and ``drafts_contract.DraftBoxContract`` are base classes
holding the tests; each provider's ``test_<provider>.py`` subclasses them and supplies the
provider-specific fixtures and hooks (a world that edits the provider's calendar, a Drafts folder
and what a user does to it), and ``test_memory.py`` does the same for the in-memory doubles the
cycle tests use. pytest collects only the ``Test*`` subclasses.
"""
