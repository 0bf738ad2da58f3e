"""Direct tests of ``routine_workflow.workflow``."""
