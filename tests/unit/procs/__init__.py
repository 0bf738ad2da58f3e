"""Direct tests of ``routine_workflow.procs``."""
