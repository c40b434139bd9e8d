"""The API's OpenAPI document, committed as docs/openapi.json: exactly what local mode serves on /openapi.json
(the functions' Powertools resolvers merged with what API Gateway answers, local.http_front.merge_openapi),
with `mlnews local up`'s default address as its first server. A test fails when the two drift apart.

    python -m local.openapi_document           # regenerate docs/openapi.json (make openapi)
    python -m local.openapi_document --check   # exit 1 when docs/openapi.json is out of date
"""

from __future__ import annotations

import argparse
import json
import sys

from local.http_front import DOCUMENTED_BASE_URL
from local.template import REPO_ROOT

DOCUMENT_PATH = REPO_ROOT / "docs" / "openapi.json"


def generate(session) -> dict:
    """The document a running LocalSession serves, as committed."""
    return session.openapi(DOCUMENTED_BASE_URL)


def render(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.openapi_document", description="docs/openapi.json")
    parser.add_argument("--check", action="store_true", help="only say whether docs/openapi.json is current")
    args = parser.parse_args(argv)
    from local.session import LocalConfig, LocalSession

    with LocalSession(LocalConfig(port=0)) as session:
        text = render(generate(session))
    if args.check:
        current = DOCUMENT_PATH.read_text(encoding="utf-8") if DOCUMENT_PATH.exists() else ""
        if current != text:
            print(f"{DOCUMENT_PATH} is out of date: run python -m local.openapi_document", file=sys.stderr)
            return 1
        print(f"{DOCUMENT_PATH} is current")
        return 0
    DOCUMENT_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOCUMENT_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
