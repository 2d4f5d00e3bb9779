"""`python -m factory ...` is the `factory` command (how `factory demo-machines` starts its children)."""

from factory.cli import main

main()
