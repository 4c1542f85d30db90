"""Example applications built on cardshield (not part of the installed package)."""
