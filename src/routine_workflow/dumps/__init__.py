"""Code dumps: naming, the built-in Markdown dump, create-dump, and pruning old dumps."""
