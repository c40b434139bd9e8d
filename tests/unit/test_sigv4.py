"""local.sigv4: a request signed by botocore verifies; every part the signature covers, and the scope and time
API Gateway checks, refuse it with API Gateway's messages when changed."""

import calendar
import time

import pytest
from botocore.credentials import Credentials

from local.sigv4 import Caller, SignatureRefused, sign, verify

URL = "http://127.0.0.1:3000/api/v1/model/train/job-1?b=2&a=1"
KEY = Caller("AKIDLOCAL", "secret", (None,), "arn:aws:iam::123456789012:user/someone")


def known(access_key):
    return KEY if access_key == KEY.access_key else None


def signed(body=b'{"x": 1}', region="us-east-1", secret="secret", method="POST", url=URL):
    headers = sign(method, url, {"Content-Type": "application/json"}, body, region,
                   Credentials("AKIDLOCAL", secret))
    return [("Host", "127.0.0.1:3000"), *headers.items()]


def signed_at(headers) -> float:
    stamp = dict(headers)["X-Amz-Date"]
    return calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))


def refusal(**changes) -> SignatureRefused:
    if callable(changes.get("headers")):
        changes["headers"] = changes["headers"]()
    args = {"method": "POST", "url": URL, "headers": signed(), "body": b'{"x": 1}', "region": "us-east-1",
            "callers": known, **changes}
    with pytest.raises(SignatureRefused) as refused:
        verify(**args)
    return refused.value


def test_a_botocore_signature_verifies_and_names_the_caller():
    headers = signed()
    assert verify("POST", URL, headers, b'{"x": 1}', "us-east-1", known) is KEY
    # 5 minutes either way are allowed
    assert verify("POST", URL, headers, b'{"x": 1}', "us-east-1", known, now=signed_at(headers) + 299) is KEY


@pytest.mark.parametrize(
    ("changes", "error_type", "message"),
    [
        ({"headers": []}, "MissingAuthenticationTokenException", "Missing Authentication Token"),
        ({"body": b'{"x": 2}'}, "InvalidSignatureException", "The request signature we calculated does not"),
        ({"method": "PUT"}, "InvalidSignatureException", "The request signature we calculated does not"),
        ({"url": URL.replace("a=1", "a=9")}, "InvalidSignatureException", "The request signature we calc"),
        ({"url": URL.replace("job-1", "job-2")}, "InvalidSignatureException", "The request signature we c"),
        # signed when the test runs (collection may be minutes earlier: the signature would have expired)
        ({"headers": lambda: signed(secret="other")}, "InvalidSignatureException", "The request signature"),
        ({"region": "eu-west-1"}, "InvalidSignatureException",
         "Credential should be scoped to a valid region, not 'us-east-1'."),
        ({"callers": lambda key: None}, "UnrecognizedClientException",
         "The security token included in the request is invalid."),
    ],
)
def test_each_covered_part_and_the_scope_refuse_a_changed_request(changes, error_type, message):
    refused = refusal(**changes)
    assert refused.error_type == error_type and refused.message.startswith(message)


def test_the_time_window_is_five_minutes():
    headers = signed()
    at = signed_at(headers)
    expired = refusal(headers=headers, now=at + 301)
    assert expired.message.startswith(f"Signature expired: {dict(headers)['X-Amz-Date']} is now earlier than")
    early = refusal(headers=headers, now=at - 301)
    assert early.message.startswith("Signature not yet current:")


def test_a_signature_over_headers_without_host_or_with_a_changed_date_is_refused():
    headers = dict(signed())
    authorization = headers["Authorization"]
    without_host = authorization.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;")
    assert without_host != authorization
    refused = refusal(headers=[*{**headers, "Authorization": without_host}.items()])
    assert "'Host' or ':authority' must be a 'SignedHeader'" in refused.message
    later = {**headers, "X-Amz-Date": "20300101T000000Z"}
    assert refusal(headers=[*later.items()]).message.startswith("Date in Credential scope does not match")
    assert "ISO-8601" in refusal(headers=[*{**headers, "X-Amz-Date": "20301301T000000Z"}.items()]).message


def test_malformed_authorization_headers_are_incomplete_signatures_not_errors():
    for value in ("Bearer token", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=a/b, Signature=ü, "
                  "SignedHeaders=host"):
        headers = [("Host", "x"), ("X-Amz-Date", "20260101T000000Z"), ("Authorization", value)]
        refused = refusal(headers=headers)
        assert refused.error_type in ("IncompleteSignatureException", "InvalidSignatureException")
    missing_date = refusal(headers=[(k, v) for k, v in signed() if k != "X-Amz-Date"])
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header" in missing_date.message
    non_ascii = dict(signed())
    non_ascii["Authorization"] = non_ascii["Authorization"][:-4] + "éééé"
    assert refusal(headers=[*non_ascii.items()]).error_type == "InvalidSignatureException"
