"""The fundraising analytics of issue #14, for one UTC year: each figure's definition is
in the module that counts it (`recurring` for churn, recovered revenue and cohorts of
monthly donors; `giving` for gift ranges, second gifts and readers who give). Every
figure is aggregated in the database, a few rows coming back per figure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from membership.reports.giving import (
    Band,
    Readers,
    SecondGifts,
    gift_ranges,
    readers_who_give,
    second_gifts,
)
from membership.reports.recurring import Churn, Cohort, Recovery, churn, cohorts, recovery


@dataclass(frozen=True)
class Analytics:
    year: int
    churn: Churn
    recovery: Recovery
    gift_ranges: dict[str, list[Band]]
    second_gifts: SecondGifts
    cohorts: list[Cohort]
    readers: list[Readers]

    def as_json(self) -> dict:
        return {
            "year": self.year,
            "churn": self.churn.as_json(),
            "recovered_revenue": self.recovery.as_json(),
            "gift_ranges": {currency: [band.as_json() for band in bands]
                            for currency, bands in self.gift_ranges.items()},
            "second_gifts": self.second_gifts.as_json(),
            "monthly_cohorts": [cohort.as_json() for cohort in self.cohorts],
            "readers_who_give": [row.as_json() for row in self.readers],
        }


def analytics(year: int, today: date, exponent: Callable[[str], int]) -> Analytics:
    """Every figure for `year` as of `today` (which bounds the cohorts); `exponent` gives
    a currency's decimals (`membership.donations.money.exponent`), for the gift ranges."""
    return Analytics(year=year, churn=churn(year), recovery=recovery(year),
                     gift_ranges=gift_ranges(year, exponent),
                     second_gifts=second_gifts(year), cohorts=cohorts(year, today),
                     readers=readers_who_give(year))
