"""Opt-outs: a few people and companies ask to be left out (GDPR), at some date after
they were first recorded and after the GDPR came into force."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GDPR_DAY = np.datetime64("2018-05-25")
PERSON_RATE = 0.01
ORG_RATE = 0.005


@dataclass
class OptOuts:
    is_org: np.ndarray
    subject: np.ndarray  # local index (person or org)
    since: np.ndarray  # datetime64[D]


def draw_opt_outs(
    rng: np.random.Generator, org_seen: np.ndarray, person_seen: np.ndarray, end_day: np.datetime64
) -> OptOuts:
    def pick(seen: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
        who = np.nonzero(rng.random(seen.shape[0]) < rate)[0]
        lo = np.maximum(seen[who], GDPR_DAY).astype(np.int64)
        hi = np.int64(end_day.astype(np.int64))
        lo = np.minimum(lo, hi)
        day = lo + np.floor(rng.random(who.shape[0]) * (hi - lo + 1)).astype(np.int64)
        return who, day.astype("datetime64[D]")

    orgs, org_day = pick(org_seen, ORG_RATE)
    people, person_day = pick(person_seen, PERSON_RATE)
    return OptOuts(
        is_org=np.concatenate([np.ones(orgs.shape[0], bool), np.zeros(people.shape[0], bool)]),
        subject=np.concatenate([orgs, people]),
        since=np.concatenate([org_day, person_day]),
    )
