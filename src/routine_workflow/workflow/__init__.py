"""How a run works: the session (lock, signals, history, hooks), the plan, the runner (the DAG).

Also the ways of starting runs: ``watch`` (on file changes) and ``fleet`` (several projects).
"""
