"""Direct tests of ``routine_workflow.clean``."""
