"""Feast entities: the organisation (what the model ranks) and the person."""

from __future__ import annotations

from feast import Entity
from feast.value_type import ValueType

from talentmap.features.catalog import ORG_KEY, PERSON_KEY

organization = Entity(
    name="organization",
    join_keys=[ORG_KEY],
    value_type=ValueType.STRING,
    description="A company, keyed by the contract's org_id.",
)
person = Entity(
    name="person",
    join_keys=[PERSON_KEY],
    value_type=ValueType.STRING,
    description="A person (founder, executive, author), keyed by the contract's person_id.",
)
ENTITIES = {ORG_KEY: organization, PERSON_KEY: person}
