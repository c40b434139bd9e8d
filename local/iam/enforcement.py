"""Every AWS call made as a role is authorized against that role, as AWS would, before it reaches moto.

Functions, the state machine and training jobs run with credentials of their own (as Lambda gives a function
its role's temporary credentials); a botocore handler on every client looks the caller up by its access key,
asks `local.iam.requests` what the call needs (implicit KMS use included) and answers a refused call the way
the service does (AccessDenied, HTTP 4xx) without sending it. Calls with any other credentials (tests, the
local-mode host, moto itself) are not checked. Every refusal is also kept, so a test suite can fail on it
with the function, the call and the statement that is missing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

from local.cfn import ACCOUNT_ID
from local.iam.policy import Decision, PolicyError, evaluate
from local.iam.requests import Call, ResourceCatalog, UnmappedCall, authorizations

_PARAMS = "mlnews.api_params"
# HTTP status and error code a service answers an unauthorized request with.
_DENIED = {
    "s3": (403, "AccessDenied"),
    "sqs": (403, "AccessDenied"),
    "lambda": (403, "AccessDeniedException"),
}
_KMS_DENIED = {"sqs": "KMS.AccessDeniedException", "s3": "AccessDenied"}


@dataclass(frozen=True)
class Principal:
    role_arn: str
    label: str  # what runs as the role: "PredictFunction", "RetrainingStateMachine", ...
    statements: tuple[dict, ...]

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]


@dataclass
class Denial:
    principal: Principal
    session: str
    call: Call
    refused: list[Decision] = field(default_factory=list)
    unmapped: str = ""

    @property
    def caller_arn(self) -> str:
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.principal.role_name}/{self.session}"

    def aws_message(self) -> str:
        if self.unmapped:
            return f"local mode cannot authorize this call: {self.unmapped}"
        first = self.refused[0]
        why = (
            "an explicit deny in an identity-based policy"
            if first.explicit_deny
            else (f"no identity-based policy allows the {first.request.action} action")
        )
        return (
            f"User: {self.caller_arn} is not authorized to perform: {first.request.action} on resource: "
            f"{first.request.resource} because {why}"
        )

    def report(self) -> str:
        """What was refused and the statement that would allow it (for test failures and logs)."""
        caller, call = self.principal, self.call
        lines = [f"{caller.label} (role {caller.role_arn}) called {call.service}:{call.operation}"]
        if self.unmapped:
            return "\n".join([*lines, f"  {self.unmapped}"])
        for decision in self.refused:
            request = decision.request
            reason = "refused by an explicit Deny" if decision.explicit_deny else "no statement allows it"
            lines.append(f"  needs {request.action} on {request.resource}: {reason}")
            if request.because:
                lines.append(f"    ({request.because})")
        missing = [d.request for d in self.refused if not d.explicit_deny]
        if missing:
            lines.append("  missing statement:")
            lines.append(
                "    "
                + json.dumps(
                    {
                        "Effect": "Allow",
                        "Action": sorted({r.action for r in missing}),
                        "Resource": sorted({r.resource for r in missing}),
                    }
                )
            )
        return "\n".join(lines)


class AccessControl:
    """Who is who (access key -> role) and what they may do; the refusals seen so far."""

    def __init__(self):
        self._lock = threading.RLock()
        self._principals: dict[str, Principal] = {}  # role ARN -> principal
        self._sessions: dict[str, tuple[str, str]] = {}  # access key -> (role ARN, session name)
        self.catalog = ResourceCatalog()
        self._denials: list[Denial] = []
        self.checked: Counter[tuple[str, str]] = Counter()  # (principal label, service:Operation) -> calls

    def register(self, role_arn: str, label: str, statements: tuple[dict, ...] | list[dict]) -> None:
        with self._lock:
            self._principals[role_arn] = Principal(role_arn, label, tuple(statements))

    def add_resources(self, catalog: ResourceCatalog) -> None:
        with self._lock:
            self.catalog.update(catalog)

    def knows(self, role_arn: str) -> bool:
        return role_arn in self._principals

    def credentials(self, role_arn: str, session: str) -> dict[str, str]:
        """Environment variables with the role's credentials for `session` (a function or job name)."""
        if role_arn not in self._principals:
            raise KeyError(f"{role_arn}: no such role in the deployed template")
        digest = hashlib.sha256(f"{role_arn}\0{session}".encode()).hexdigest().upper()
        access_key = "ASIA" + digest[:16]
        with self._lock:
            self._sessions[access_key] = (role_arn, session)
        return {
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": digest[16:56],
            "AWS_SESSION_TOKEN": f"local-session-{digest[:24]}",
        }

    def principal(self, access_key: str) -> tuple[Principal, str] | None:
        found = self._sessions.get(access_key)
        if found is None:
            return None
        role_arn, session = found
        principal = self._principals.get(role_arn)
        return (principal, session) if principal else None

    def decisions(self, role_arn: str, call: Call) -> list[Decision]:
        """How the role's policies decide each authorization `call` needs (nothing is recorded)."""
        principal = self._principals[role_arn]
        return [evaluate(list(principal.statements), r) for r in authorizations(call, self.catalog)]

    def check(self, principal: Principal, session: str, call: Call) -> Denial | None:
        with self._lock:
            self.checked[principal.label, f"{call.service}:{call.operation}"] += 1
        try:
            refused = [d for d in self.decisions(principal.role_arn, call) if not d.allowed]
        except (UnmappedCall, PolicyError) as error:
            denial = Denial(principal, session, call, unmapped=str(error))
        else:
            if not refused:
                return None
            denial = Denial(principal, session, call, refused)
        with self._lock:
            self._denials.append(denial)
        return denial

    def take_denials(self) -> list[Denial]:
        with self._lock:
            denials, self._denials = self._denials, []
        return denials

    def reset(self) -> None:
        with self._lock:
            self._principals.clear()
            self._sessions.clear()
            self.catalog = ResourceCatalog()
            self._denials.clear()
            self.checked.clear()


access_control = AccessControl()


# ---------------------------------------------------------------- the botocore handlers


def _remember_params(params, context, **_kwargs) -> None:
    if context is not None:
        context[_PARAMS] = params


def _authorize(model, request_signer, context, **_kwargs):
    credentials = getattr(request_signer, "_credentials", None)
    access_key = getattr(credentials, "access_key", None) if credentials is not None else None
    found = access_control.principal(access_key) if access_key else None
    if found is None:
        return None
    principal, session = found
    service = model.service_model.service_name
    call = Call(
        service=service,
        operation=model.name,
        params=dict((context or {}).get(_PARAMS) or {}),
        region=request_signer.region_name or (context or {}).get("client_region") or "us-east-1",
        account=ACCOUNT_ID,
    )
    denial = access_control.check(principal, session, call)
    if denial is None:
        return None
    return _refusal(service, denial)


def _refusal(service: str, denial: Denial):
    from botocore.awsrequest import AWSResponse

    status, code = _DENIED.get(service, (400, "AccessDeniedException"))
    if denial.refused and all(d.request.action.startswith("kms:") for d in denial.refused):
        code = _KMS_DENIED.get(service, code)
    request_id = str(uuid.uuid4())
    parsed = {
        "Error": {"Code": code, "Message": denial.aws_message()},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": request_id, "HTTPHeaders": {}},
    }
    return AWSResponse("https://local-iam.invalid/", status, {"x-amzn-requestid": request_id}, None), parsed


_installed = threading.Lock()
_HANDLERS = (("before-parameter-build", _remember_params), ("before-call", _authorize))
_session_lock = threading.Lock()
_checked_session = None


def _register(events) -> None:
    for event, handler in _HANDLERS:
        events.register(event, handler, unique_id=f"mlnews-iam-{event}")


def install() -> None:
    """Check every botocore session created from now on, and boto3's default one (idempotent)."""
    import boto3
    import botocore.handlers

    with _installed:
        for handler in _HANDLERS:
            if handler not in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.append(handler)
        if boto3.DEFAULT_SESSION is not None:  # clients it makes from now on are checked too
            _register(boto3.DEFAULT_SESSION._session.get_component("event_emitter"))
        _install_state_machine_credentials()


def role_client(
    service: str, role_arn: str, session: str, region: str, endpoint_url: str | None = None, config=None
):
    """A boto3 client that calls as `role_arn` (for what AWS services do with a role: an event source
    mapping polling its queue, a training job reading its channels, a state machine's tasks)."""
    import boto3

    global _checked_session
    keys = access_control.credentials(role_arn, session)
    with _session_lock:
        if _checked_session is None:
            _checked_session = boto3.session.Session()
        return _checked_session.client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys["AWS_SESSION_TOKEN"],
            config=config,
        )


def _install_state_machine_credentials() -> None:
    """moto's Step Functions interpreter calls AWS with fixed dummy keys whatever the execution role is;
    here its calls carry the role's credentials (the state machine's role, or a task's Credentials.RoleArn),
    so they are authorized like a state machine's calls on AWS."""
    import sys

    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory  # noqa: F401
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = getattr(boto_client.boto_client_for, "__wrapped__", boto_client.boto_client_for)

    def boto_client_for(region, service, state_credentials=None):
        client = original(region=region, service=service, state_credentials=state_credentials)
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn or not access_control.knows(role_arn):
            return client
        return role_client(service, role_arn, "states", region, client.meta.endpoint_url, client.meta.config)

    boto_client_for.__wrapped__ = original
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "") or ""
        if name.startswith("moto.stepfunctions") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for


@contextmanager
def expected_denials():
    """For tests that provoke a refusal: yields the list the refusals inside the block are added to."""
    before = access_control.take_denials()
    seen: list[Denial] = []
    try:
        yield seen
    finally:
        seen += access_control.take_denials()
        with access_control._lock:
            access_control._denials[:0] = before
