"""``python -m fusion`` runs the CLI."""

from fusion.cli.main import main

main()
