"""The command line: the Typer app and its commands (the only package that prints or exits)."""

from . import budget, commands, deploy, paper  # registers the commands on the app
from .app import app, main

__all__ = ["app", "budget", "commands", "deploy", "main", "paper"]
