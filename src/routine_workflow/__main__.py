"""``python -m routine_workflow`` behaves exactly like the ``routine-workflow`` command."""

from routine_workflow.cli.entry import main

if __name__ == "__main__":
    main(prog_name="routine-workflow")
