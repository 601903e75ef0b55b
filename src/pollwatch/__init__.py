"""pollwatch: election forensics, observation, voter guide and dialogue coach."""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
