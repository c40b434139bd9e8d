"""The dated price file: its shape, the tier arithmetic, and the free tier kept apart."""

import json

import pytest

from cost.inputs import read_template
from cost.prices import PRICE_FILE, Prices, check_shape, load_prices


@pytest.fixture(scope="module")
def prices() -> Prices:
    return load_prices()


def test_the_file_says_when_it_was_checked(prices):
    assert prices.checked == "2026-12-03"
    assert prices.region == "us-east-1"


def test_every_price_has_a_source_a_unit_and_a_verification_flag(prices):
    for key, entry in prices.data["prices"].items():
        assert entry["source"].startswith("https://"), key
        assert entry["unit"], key
        assert isinstance(entry["verified"], bool), key
        assert entry["per"] > 0, key
    assert check_shape(prices.data) == []


def test_every_free_tier_allowance_has_a_source_a_unit_and_a_term(prices):
    allowances = prices.data["free_tier"]["allowances"]
    assert allowances
    for key, allowance in allowances.items():
        assert allowance["source"].startswith("https://"), key
        assert allowance["unit"] and allowance["term"], key
        assert allowance["quantity"] > 0, key


def test_every_training_instance_the_template_allows_has_a_price(prices):
    for instance in read_template().training_instance_types:
        assert prices.unit_price(f"sagemaker.training.{instance}") > 0, instance


def test_a_malformed_entry_is_reported_by_name():
    data = json.loads(PRICE_FILE.read_text())
    del data["prices"]["kms.key_month"]["source"]
    data["prices"]["xray.traces_recorded"]["tiers"] = [{"up_to": 5, "usd": 1.0}]
    problems = check_shape(data)
    assert any(p.startswith("kms.key_month: missing 'source'") for p in problems)
    assert any("xray.traces_recorded" in p for p in problems)


def test_flat_and_tiered_prices_by_hand(prices):
    assert prices.cost("lambda.requests", 3_000_000) == pytest.approx(0.60)
    assert prices.cost("apigateway.rest.requests", 1_000_000) == pytest.approx(3.50)
    # 333 M at $3.50 then 67 M at $2.80 per million
    assert prices.cost("apigateway.rest.requests", 400_000_000) == pytest.approx(333 * 3.5 + 67 * 2.8)
    assert prices.cost("apigateway.http.requests", 301_000_000) == pytest.approx(300 * 1.0 + 0.9)
    assert prices.cost("stepfunctions.standard.state_transitions", 4_000) == pytest.approx(0.10)
    assert prices.cost("kms.requests", 0) == 0.0


def test_the_free_tier_is_a_separate_figure_never_taken_off_the_cost(prices):
    cost = prices.cost("lambda.requests", 2_000_000)
    assert cost == pytest.approx(0.40)  # nothing subtracted
    assert prices.free_tier_value("lambda.requests", "lambda.requests", 2_000_000) == pytest.approx(0.20)
    assert prices.free_tier_value("lambda.requests", "lambda.requests", 500_000) == pytest.approx(0.10)
    assert "lambda.requests" not in prices.data["prices"]["lambda.requests"].get("free", {})


def test_unverified_figures_are_listed(prices):
    unverified = prices.unverified()
    assert "stepfunctions.standard.state_transitions" not in unverified  # seen on the AWS page
    assert "alb.hour" in unverified
