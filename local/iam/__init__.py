"""IAM as AWS enforces it, for local mode and the test suite: the template's roles (roles), what each API call
needs (requests), how a policy decides (policy), and the check on every call made as a role (enforcement)."""
