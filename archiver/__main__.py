"""Run the command line as ``python -m archiver``."""
from archiver.cli import main

main()
