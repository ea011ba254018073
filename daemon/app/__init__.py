"""What the user runs: the ``coffeechat`` command line (``cli``), the service loop, status and
plan read-outs, doctor, demo, announcements, previews and the systemd unit.

The top wing: may import every other wing; nothing in ``daemon`` imports it.
"""
