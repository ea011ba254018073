"""``python -m daemon`` runs the ``coffeechat`` command."""

from daemon.cli import main

main()
