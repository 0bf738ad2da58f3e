"""Command line: click only. Parse, call, print, return an exit code."""
