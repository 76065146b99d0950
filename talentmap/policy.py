"""What ingest does with data that breaks the contract (``lake.policy``, ``--policy``).

- ``strict``: any problem refuses the whole directory; the lake is untouched.
- ``repair`` (default): a bad value in an optional, non-key column is blanked (the row is
  kept, and the repair reported); a row is dropped only when a key or a required value is
  broken, and only then do the rows that depend on it go too (cascade).
- ``quarantine``: every row that breaks a rule is set aside, with its dependants.

Kept apart from ``talentmap.repair`` so that the settings can name the type without
importing pandas. The rules themselves are in ``talentmap.repair`` and data/CONTRACT.md.
"""

from __future__ import annotations

from typing import Literal, get_args

Policy = Literal["strict", "repair", "quarantine"]
POLICIES: tuple[Policy, ...] = get_args(Policy)
DEFAULT_POLICY: Policy = "repair"


def resolve_policy(policy: Policy | None, quarantine: bool = False) -> Policy:
    """The policy to apply: ``quarantine=True`` is the older spelling of ``quarantine``."""
    if quarantine:
        if policy not in (None, "quarantine"):
            raise ValueError(f"--quarantine contradicts --policy {policy}")
        return "quarantine"
    if policy is None:
        return DEFAULT_POLICY
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    return policy
