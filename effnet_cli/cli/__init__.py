"""The command line: the Typer app and its commands (the only package that prints or exits)."""

from . import commands  # registers the commands on the app
from .app import app, main

__all__ = ["app", "commands", "main"]
