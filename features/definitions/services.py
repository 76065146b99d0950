"""The ``promise`` service's name, for importers of this module.

The service itself is generated from the catalogue (``definitions.repo``), which owns the
name; training still imports it from here while it is being moved (issue 14).
"""

from __future__ import annotations

from talentmap.features.catalog import SERVICE_NAME

__all__ = ["SERVICE_NAME"]
