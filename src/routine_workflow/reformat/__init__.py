"""The reformat feature: ``pipeline`` (the pure per-file core, autoflake → isort → black),
``toolconfig`` (isort's and autoflake's settings), ``workers`` (the process pools),
``engines`` (black or ruff behind one protocol), ``ruff``, ``run`` (the project pass),
``cache`` (its content-hash cache) and ``command`` (the CLI's)."""
