"""Command groups of the ``cardshield`` CLI, one module each (registered in cli.py)."""
