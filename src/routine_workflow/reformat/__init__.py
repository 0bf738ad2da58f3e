"""The reformat feature: a pure per-file pipeline (autoflake → isort → black), the worker pool,
the project pass, its content-hash cache, and the optional ruff engine."""
