"""Conversions between Python values and what boto3's DynamoDB layer accepts (Decimal, not float)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def to_dynamodb(value: Any) -> Any:
    """Floats become Decimals (DynamoDB numbers); non-finite floats are rejected by json."""
    return json.loads(json.dumps(value, allow_nan=False), parse_float=Decimal)


def from_dynamodb(value: Any) -> Any:
    """Decimals become int when integral, else float; sets become sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: from_dynamodb(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [from_dynamodb(item) for item in value]
    if isinstance(value, set):
        return sorted(from_dynamodb(item) for item in value)
    return value
