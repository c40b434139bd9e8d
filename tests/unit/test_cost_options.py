"""The seed's options: fixed costs by hand, break-even arithmetic, and the committed measurement's verdict."""

import pytest

from cost.inputs import load_measured, read_template
from cost.model import Scenario
from cost.options import Ec2Option, FargateOption, break_even, compare, ec2_bill, fargate_bill
from cost.prices import load_prices


@pytest.fixture(scope="module")
def inputs():
    return read_template(), load_measured(), load_prices()


def test_break_even_of_a_line_and_a_flat_cost():
    # $0.01 per prediction/day against a flat $50: they meet at 5,000
    assert break_even(lambda x: 0.01 * x, lambda x: 50.0) == pytest.approx(5000, rel=1e-6)
    assert break_even(lambda x: 1.0, lambda x: 50.0) is None  # never
    assert break_even(lambda x: 100.0, lambda x: 50.0) is None  # already above at the start


def test_fargate_and_ec2_fixed_costs_by_hand(inputs):
    facts, measured, prices = inputs
    scenario = Scenario(predictions_per_day=1000)
    fargate = fargate_bill(facts, measured, prices, scenario, FargateOption())
    task_hour = 0.5 * 0.04048 + 1.0 * 0.004445
    assert fargate.lines["Fargate 2 tasks"] == pytest.approx(2 * task_hour * 730)
    assert fargate.lines["ALB hours"] == pytest.approx(0.0225 * 730)
    assert fargate.lines["RDS db.t4g.micro"] == pytest.approx(0.016 * 730)
    assert fargate.lines["RDS gp3 storage"] == pytest.approx(20 * 0.115)
    assert fargate.lines["ElastiCache cache.t4g.micro"] == pytest.approx(0.016 * 730)
    assert fargate.lines["public IPv4 (ALB + tasks)"] == pytest.approx(4 * 0.005 * 730)
    spot = fargate_bill(facts, measured, prices, scenario, FargateOption(spot=True))
    assert spot.lines["Fargate 2 tasks (Spot)"] == pytest.approx(2 * task_hour * 730 * 0.3)
    ec2 = ec2_bill(facts, measured, prices, scenario, Ec2Option())
    assert ec2.lines["EC2 t3.small x 1"] == pytest.approx(0.0208 * 730)
    assert ec2.lines["EBS gp3"] == pytest.approx(20 * 0.08)
    assert ec2.lines["T3 Unlimited surplus vCPU-hours"] == 0.0


def test_options_keep_the_retraining_pipeline(inputs):
    facts, measured, prices = inputs
    bill = ec2_bill(facts, measured, prices, Scenario(predictions_per_day=1000), Ec2Option())
    assert bill.lines["shared: SageMaker"] > 0 and bill.lines["shared: KMS"] >= 1.0


def test_serverless_is_cheapest_at_low_traffic_and_meets_each_option_later(inputs):
    facts, measured, prices = inputs
    result = compare(facts, measured, prices, Scenario(), (1_000, 1_000_000))
    monthly = result["monthly"]
    assert monthly["serverless"][1_000] < monthly["option3_ec2"][1_000] < monthly["option2_fargate"][1_000]
    even = result["break_even_predictions_per_day"]
    assert even["option3_ec2"] < even["option2_fargate_spot"] < even["option2_fargate"]
    lean = result["break_even_lean_predictions_per_day"]
    assert lean["option2_fargate"] > even["option2_fargate"]  # an HTTP API pushes the break-even out
