"""Backups: scan the project, write a verified archive, list, verify and restore.

``manifest`` (what is archived, change detection), ``store`` (names, sidecars,
retention), ``writer`` (the archive), ``reader`` (verification and path
safety), ``restore``, and ``take`` (the step's work). Imported lazily by the
step and the ``backup`` subcommands.
"""
