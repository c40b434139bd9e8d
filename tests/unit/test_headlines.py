"""One headline identity: duplicates, golden-holdout membership and prediction_ids agree on sameness."""

import pytest

from core.data.dataset import NewsRecord
from core.data.headlines import headline_sha256, normalise_headline
from core.data.splits import golden_score, is_golden
from core.feedback.prediction_ids import issue_prediction_id, verify_prediction_id

# One headline written two ways. The golden-set identity (lower-case + collapse whitespace) and the
# prediction_id identity (NFKC + casefold) used to disagree on all but the two whitespace pairs.
SAME_HEADLINE = [
    ("ＳＥＮＡＴＥ Ｖｏｔｅｓ ２０２４", "senate votes 2024"),  # full-width letters and digits
    ("Straße Closed", "STRASSE closed"),  # casefold, not lower(): ß is ss
    ("Café\u00a0Opens\u3000Today", "café opens today"),  # no-break and ideographic spaces
    ("Cafe\u0301 Opens", "Café opens"),  # combining acute accent vs precomposed é
    ("Senate … again", "senate ... again"),  # compatibility character (horizontal ellipsis)
    ("  Senate\tVotes \n Today ", "senate votes today"),  # surrounding and inner whitespace
]


@pytest.mark.parametrize(("written", "other"), SAME_HEADLINE)
def test_one_identity_for_duplicates_golden_set_and_prediction_ids(written, other):
    assert normalise_headline(written) == normalise_headline(other)
    assert headline_sha256(written) == headline_sha256(other)
    # duplicates
    assert (NewsRecord(headline=written, category="X").normalised_headline()
            == NewsRecord(headline=other, category="X").normalised_headline())
    # golden holdout: the same position, so the same side at every fraction
    assert golden_score(written) == golden_score(other)
    assert all(is_golden(written, f) == is_golden({"headline": other}, f) for f in (0.1, 0.3, 0.5, 0.9))
    # feedback: a prediction_id issued for one spelling verifies with the other
    key = b"k" * 32
    claims = verify_prediction_id(key, issue_prediction_id(key, written, "POLITICS", "v0001"), other)
    assert claims.headline_sha256 == headline_sha256(other)


def test_golden_position_is_the_first_64_bits_of_the_identity():
    digest = headline_sha256("Senate votes today")
    assert golden_score("Senate votes today") == int(digest[:16], 16) / 2.0**64
    assert 0.0 <= golden_score("") < 1.0


def test_different_headlines_stay_different():
    assert headline_sha256("Senate votes") != headline_sha256("Senate vetoes")
    assert headline_sha256("resume") != headline_sha256("résumé")  # accents are kept, only composed
    assert normalise_headline(None) == normalise_headline("") == ""
