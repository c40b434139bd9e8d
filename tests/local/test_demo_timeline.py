"""How the demo cuts a dataset on its time axis: v1's data is older news only, the golden set the gate scores
on gets the newer news's golden share, and the traffic users correct is newer news it may train on."""

import pytest

from core.data.splits import is_golden
from local.demo import DemoFailure, split_timeline


def _records(n: int = 400) -> list[dict]:
    categories = ("POLITICS", "SPORTS", "TRAVEL")
    return [
        {
            "headline": f"Headline number {i} about {categories[i % 3].lower()}",
            "category": categories[i % 3] if i < 300 or i % 3 else "CULTURE & ARTS",  # a later category
            "date": f"20{18 + i // 100}-0{1 + i % 9}-1{i % 10}",
        }
        for i in range(n)
    ]


def test_older_news_trains_newer_golden_news_evaluates_the_rest_is_traffic():
    records = _records()
    timeline = split_timeline(records, sample=None, newer=None, cutoff="2020-01-01", golden_fraction=0.2)
    assert timeline.cutoff == "2020-01-01"
    assert timeline.older and all(r["date"] < "2020-01-01" for r in timeline.older)
    assert timeline.newer_golden and all(
        r["date"] >= "2020-01-01" and is_golden(r, 0.2) for r in timeline.newer_golden
    )
    assert timeline.base == timeline.older + timeline.newer_golden
    # traffic: newer, never golden, only categories v1 learned (feedback cannot name another)
    known = {r["category"] for r in timeline.older if not is_golden(r, 0.2)}
    assert all(r["date"] >= "2020-01-01" and not is_golden(r, 0.2) for r in timeline.incoming)
    assert {r["category"] for r in timeline.incoming} <= known
    assert timeline.unnamed > 0 and "CULTURE & ARTS" not in known
    newer = [r for r in records if r["date"] >= "2020-01-01"]
    assert len(timeline.newer_golden) + len(timeline.incoming) + timeline.unnamed == len(newer)


def test_default_cutoff_is_the_median_date_and_the_cut_is_deterministic():
    records = _records()
    first = split_timeline(records, sample=50, newer=80, cutoff=None, golden_fraction=0.1)
    again = split_timeline(records, sample=50, newer=80, cutoff=None, golden_fraction=0.1)
    assert first.cutoff == sorted(r["date"] for r in records)[200]
    assert len(first.older) <= 52 and len(first.newer_golden) + len(first.incoming) + first.unnamed <= 82
    assert [r["headline"] for r in first.incoming] == [r["headline"] for r in again.incoming]


@pytest.mark.parametrize(
    ("records", "cutoff", "message"),
    [
        ([{"headline": "h", "category": "POLITICS"}] * 5, None, "needs dated records"),
        (_records(), "2030-01-01", "no records on one side of 2030-01-01"),
    ],
)
def test_data_without_a_time_axis_is_refused_with_the_reason(records, cutoff, message):
    with pytest.raises(DemoFailure, match=message):
        split_timeline(records, sample=None, newer=None, cutoff=cutoff, golden_fraction=0.1)
