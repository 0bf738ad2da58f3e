"""``routine-workflow doctor``: why the tool does what it does in one project.

Each check is a small function that looks at one thing and returns a ``Section``:
what it found (data for ``--json``, lines for a person) and the ``Finding``\\ s --
problems, each with what to do about it. Nothing here changes anything.

- ``findings``: ``Finding`` and ``Section``;
- ``state``: the effective configuration, the state directories, the locks;
- ``tools``: the formatters and create-dump found, with versions;
- ``schedule``: the crontab line or systemd timer installed, and the next runs;
- ``runs``: the last runs (from the history) and whether the newest backup verifies.
"""
