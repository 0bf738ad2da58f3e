"""Undo: a journal of what each run replaced (``journal``), and putting it back (``restore``)."""
