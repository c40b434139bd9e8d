"""What boto3's DynamoDB layers take and give: Python values (Decimal, not float), the low-level client's
attribute values ({"S": ...}, used by transactions and paginators) and conditional-write refusals."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


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


def to_attribute_values(item: dict) -> dict:
    """Python dict -> the low-level client's attribute-value map."""
    return {key: _SERIALIZER.serialize(value) for key, value in to_dynamodb(item).items()}


def from_attribute_values(item: dict) -> dict:
    """The low-level client's attribute-value map -> Python dict, as from_dynamodb gives it."""
    return from_dynamodb({key: _DESERIALIZER.deserialize(value) for key, value in item.items()})


def conditional_check_failed(error: ClientError) -> bool:
    """A single-item write refused because its ConditionExpression did not hold."""
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"
