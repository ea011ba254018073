"""``python -m daemon`` runs the ``coffeechat`` command."""

from daemon.app.cli import main

main()
