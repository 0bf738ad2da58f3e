"""Direct tests of ``routine_workflow.reformat``."""
