"""`python -m nimbus` runs the CLI."""

from nimbus.cli import main

main()
