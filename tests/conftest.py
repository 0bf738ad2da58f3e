"""Root conftest: registers the test helpers plugin; no test may touch the real home.

Fixtures and helper functions live in ``tests/helpers.py`` (``pythonpath = ["tests"]``
in pyproject.toml makes it importable as ``helpers``), so test modules import from
a named module rather than from a conftest.
"""

pytest_plugins = ["helpers"]
