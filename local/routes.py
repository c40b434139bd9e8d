"""The API routes of a SAM template (its functions' Api and HttpApi events), as local.http_front serves."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Route:
    method: str  # GET, POST, ... or ANY
    path: str  # /models/{version}/deploy, /{proxy+}
    function_id: str  # logical id of the function
    auth: str = "NONE"  # NONE or AWS_IAM (or an authorizer name)
    function_name: str = ""

    @property
    def pattern(self) -> re.Pattern:
        regex = ""
        for part in re.split(r"(\{[^}]+\})", self.path.rstrip("/") or "/"):
            if part.startswith("{") and part.endswith("+}"):
                regex += f"(?P<{group_name(part[1:-2])}>.+)"
            elif part.startswith("{"):
                regex += f"(?P<{group_name(part[1:-1])}>[^/]+)"
            else:
                regex += re.escape(part)
        return re.compile(f"^{regex}/?$")

    def parameter_names(self) -> list[str]:
        return [name.rstrip("+") for name in re.findall(r"\{([^}]+)\}", self.path)]


def group_name(name: str) -> str:
    """The regex group of a path parameter (`{proxy+}` -> p_proxy)."""
    return "p_" + re.sub(r"\W", "_", name)


def routes_of(sam: dict) -> list[Route]:
    """API routes of the SAM template (Api and HttpApi events), with their authorization."""
    resources = sam.get("Resources", {})
    globals_api = ((sam.get("Globals") or {}).get("Api") or {}).get("Auth") or {}
    routes = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") not in ("Api", "HttpApi"):
                continue
            props = event.get("Properties") or {}
            api_auth = globals_api
            api_ref = props.get("RestApiId") or props.get("ApiId")
            if isinstance(api_ref, dict) and "Ref" in api_ref:
                api_props = resources.get(api_ref["Ref"], {}).get("Properties") or {}
                api_auth = api_props.get("Auth") or api_auth
            auth = (props.get("Auth") or {}).get("Authorizer") or api_auth.get("DefaultAuthorizer") or "NONE"
            method = str(props.get("Method", "ANY")).upper()
            routes.append(
                Route(
                    "ANY" if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" else method,
                    props.get("Path", "/"),
                    logical_id,
                    str(auth),
                )
            )
    # literal segments win over parameters, longer paths over shorter ones (API Gateway's precedence)
    routes.sort(key=lambda r: (r.path.count("{"), -r.path.count("/"), r.method == "ANY"))
    return routes
