"""AWS Signature Version 4 for API Gateway (service `execute-api`): how callers sign (`mlnews smoke`, local
mode's API client) and how local mode checks a signature on `AWS_IAM` routes as API Gateway does.

Checked: the Authorization header's form, the credential scope (date, region, service), a known access key and
its session token, the time (5 minutes either way) and the signature over the request as received (method,
path, query, signed headers, body). Not checked: IAM policy (who may call `execute-api:Invoke`); API Gateway
would refuse an identity without it, local mode never does. Refusals carry API Gateway's messages:
https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch (unsigned, unknown key, wrong signature)
and https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html (scope and time).
Standard library and botocore only: cli/smoke.py uses it without local mode's dependencies.
"""

from __future__ import annotations

import calendar
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 300  # SigV4 allows 5 minutes between the request's time and the service's
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")


@dataclass(frozen=True)
class Caller:
    """Credentials the checker knows, and who they belong to."""

    access_key: str
    secret_key: str
    session_tokens: tuple[str | None, ...]  # the X-Amz-Security-Token values accepted (None: none sent)
    arn: str  # user or assumed-role ARN, as API Gateway puts it in the event's identity


class SignatureRefused(Exception):
    """API Gateway's 403: `message` is its JSON body's message, `error_type` its x-amzn-ErrorType header."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type, self.message = error_type, message


def sign(
    method: str, url: str, headers: dict[str, str], body: bytes | None, region: str, credentials
) -> dict[str, str]:
    """Headers with SigV4 (Authorization, X-Amz-Date, X-Amz-Security-Token if any) for execute-api."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


def verify(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    region: str,
    callers: Callable[[str], Caller | None],
    now: float | None = None,
) -> Caller:
    """Who signed the request (`url` as received: scheme, Host, raw path and query), or SignatureRefused."""
    lower = [(name.lower(), value) for name, value in headers]
    found = [value for name, value in lower if name == "authorization"]
    if not found:
        raise SignatureRefused("MissingAuthenticationTokenException", "Missing Authentication Token")
    authorization = found[0]
    parts = _authorization_parts(authorization)
    amz_date = _request_time(lower)
    if amz_date == "":
        raise SignatureRefused(
            "IncompleteSignatureException",
            "Date must be in ISO-8601 'basic format' (X-Amz-Date: 20260101T000000Z).",
        )
    missing = [f"Authorization header requires '{name}' parameter." for name in
               ("Credential", "Signature", "SignedHeaders") if not parts.get(name)]
    if amz_date is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if missing or not authorization.startswith(ALGORITHM + " "):
        if not missing:
            missing.append(f"Authorization header requires the algorithm '{ALGORITHM}'.")
        message = f"{' '.join(missing)} Authorization={authorization}"
        raise SignatureRefused("IncompleteSignatureException", message)
    scope = parts["Credential"].split("/")
    if len(scope) != 5:
        raise SignatureRefused(
            "IncompleteSignatureException",
            f"Credential should have five slash-separated parts (key/date/region/service/aws4_request), "
            f"not '{parts['Credential']}'.",
        )
    access_key, scope_date, scope_region, scope_service, terminator = scope
    if scope_date != amz_date[:8]:
        raise SignatureRefused(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{amz_date[:8]}', from 'X-Amz-Date'.",
        )
    if scope_region != region:
        message = f"Credential should be scoped to a valid region, not '{scope_region}'."
        raise SignatureRefused("InvalidSignatureException", message)
    if scope_service != SERVICE:
        raise SignatureRefused(
            "InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'."
        )
    if terminator != "aws4_request":
        raise SignatureRefused(
            "InvalidSignatureException",
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'.",
        )
    caller = callers(access_key)
    token = next((value for name, value in lower if name == "x-amz-security-token"), None)
    if caller is None or token not in caller.session_tokens:
        raise SignatureRefused(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    _check_time(amz_date, time.time() if now is None else now)
    signed = [name.strip() for name in parts["SignedHeaders"].lower().split(";") if name.strip()]
    if "host" not in signed:
        raise SignatureRefused(
            "IncompleteSignatureException",
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        )
    mismatch = (
        "The request signature we calculated does not match the signature you provided. Check your AWS "
        "Secret Access Key and signing method. Consult the service documentation for details."
    )
    try:
        canonical, string_to_sign, expected = _signature(
            method, url, lower, signed, body, amz_date, region, caller
        )
    except (ValueError, TypeError, UnicodeError):  # a request no signer could have produced
        raise SignatureRefused("InvalidSignatureException", mismatch) from None
    if not hmac.compare_digest(expected.encode(), parts["Signature"].encode("utf-8", "surrogateescape")):
        raise SignatureRefused(
            "InvalidSignatureException",
            f"{mismatch}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign}'\n",
        )
    return caller


def _authorization_parts(authorization: str) -> dict[str, str]:
    _, _, rest = authorization.partition(" ")
    parts = {}
    for item in rest.split(","):
        name, equals, value = item.strip().partition("=")
        if equals:
            parts[name.strip()] = value.strip()
    return parts


def _request_time(lower: list[tuple[str, str]]) -> str | None:
    """The request's time as SigV4's timestamp, from X-Amz-Date (or an HTTP Date header); None when neither
    is sent, "" when X-Amz-Date is not a timestamp."""
    amz = next((value.strip() for name, value in lower if name == "x-amz-date"), None)
    if amz is not None:
        try:
            time.strptime(amz, "%Y%m%dT%H%M%SZ")
        except ValueError:
            return ""
        return amz if _AMZ_DATE.match(amz) else ""
    date = next((value for name, value in lower if name == "date"), None)
    if date is None:
        return None
    try:
        return time.strftime("%Y%m%dT%H%M%SZ", parsedate_to_datetime(date).utctimetuple())
    except (TypeError, ValueError):
        return None


def _check_time(amz_date: str, now: float) -> None:
    signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))

    def stamp(seconds: float) -> str:
        return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))

    if signed_at < now - MAX_SKEW_SECONDS:
        raise SignatureRefused(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {stamp(now - MAX_SKEW_SECONDS)} "
            f"({stamp(now)} - 5 min.)",
        )
    if signed_at > now + MAX_SKEW_SECONDS:
        raise SignatureRefused(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {stamp(now + MAX_SKEW_SECONDS)} "
            f"({stamp(now)} + 5 min.)",
        )


def _signature(
    method: str,
    url: str,
    lower: list[tuple[str, str]],
    signed: list[str],
    body: bytes,
    amz_date: str,
    region: str,
    caller: Caller,
) -> tuple[str, str, str]:
    """(canonical request, string to sign, signature) as botocore computes them for exactly the signed
    headers, with the payload hash of the body received."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest, HTTPHeaders
    from botocore.credentials import Credentials

    class _SignedHeadersOnly(SigV4Auth):
        def headers_to_sign(self, request):
            chosen = HTTPHeaders()
            for name in signed:
                for header, value in lower:
                    if header == name:
                        chosen.add_header(name, value)
                if name not in chosen:
                    chosen[name] = ""
            return chosen

    auth = _SignedHeadersOnly(Credentials(caller.access_key, caller.secret_key), SERVICE, region)
    # The payload hash is always of the body received (a client's X-Amz-Content-SHA256 is not trusted).
    request = AWSRequest(method=method, url=url, data=body, headers={})
    request.context["timestamp"] = amz_date
    canonical = auth.canonical_request(request)
    string_to_sign = auth.string_to_sign(request, canonical)
    return canonical, string_to_sign, auth.signature(string_to_sign, request)

