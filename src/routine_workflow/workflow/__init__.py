"""How a run works: ``session`` (confirm, lock, run, record), ``plan`` (which steps),
``runner`` (the DAG), ``signals`` (SIGINT, SIGTERM and timeouts), ``history``, ``hooks``
and ``graph`` (the DAG for other tools).

Also the ways of starting runs: ``watch`` (on file changes) and ``fleet`` (several projects).
"""
