"""Cohort family: founding year and five-year founding cohort, known from the founding day.

A founding date after t is not known at t (sources often back-fill it), so the row is
dated on the founding day itself: before it, the cohort is missing, as ``founded_day``
in the profile family.
"""

from __future__ import annotations

import pandas as pd

from talentmap.features.events import DAY
from talentmap.features.prepare import Prepared

COHORT_YEARS = 5


def cohort_label(year: pd.Series) -> pd.Series:
    """'2015-2019' for 2015 to 2019: five-year buckets starting on multiples of five."""
    start = (year // COHORT_YEARS) * COHORT_YEARS
    return start.astype(str) + "-" + (start + COHORT_YEARS - 1).astype(str)


def build_cohort(p: Prepared) -> pd.DataFrame:
    founded = p.orgs.dropna(subset=["founded"])
    year = founded["founded"].dt.year.astype("int64")
    return pd.DataFrame(
        {
            "org_id": founded["org_id"].to_numpy(dtype=object),
            DAY: founded["founded"].to_numpy(),
            "founding_cohort": cohort_label(year).to_numpy(dtype=object),
            "founding_year": year.astype("float64").to_numpy(),
        }
    )
