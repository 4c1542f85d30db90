"""cardshield: a small, isolated card data environment.

Merchants take card payments online and over the phone while their own systems see only
tokens. See docs/architecture.md for the package map and the invariants.
"""

from __future__ import annotations

__version__ = "0.1.0"
