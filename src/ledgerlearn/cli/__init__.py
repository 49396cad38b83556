"""The ``ledgerlearn`` command line (typer); entry point :func:`ledgerlearn.cli.main.main`."""
