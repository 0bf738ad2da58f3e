"""Direct tests of single modules, laid out like ``src/routine_workflow``."""
