"""`python -m triage` runs the same CLI as the `triage` command."""

from .cli import main

main()
