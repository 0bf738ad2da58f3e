"""Backups: scan the project, write a verified archive, list, verify and restore.

``manifest`` (what is archived, change detection, strict validation),
``manifest_stream`` (reading an archive's manifest in bounded pieces), ``store``
(names, sidecars, retention), ``writer`` (the archive), ``tarstream`` (reading
tar headers within fixed limits), ``reader`` (verification and path safety),
``restore`` (all checks before any write), ``actions`` (list, verify, restore by
name or ``latest``) and ``take`` (one backup, as an outcome). Imported lazily by
the step and the ``backup`` subcommands.
"""
