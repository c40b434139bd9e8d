"""The project's errors: one base for every error whose message is meant for the user.

`MlNewsError` carries a stable machine-readable `code` and a message for humans; the CLI prints it on one line
and exits 2. `DomainError` is the family a request can run into; HTTP handlers map it to 4xx/503 (core never
speaks HTTP). Errors of reading data, training, loading a bundle or configuration subclass the base directly.
"""

from __future__ import annotations


class MlNewsError(Exception):
    """Base class: `code` is a stable machine-readable name, the message is for humans."""

    code = "error"

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class DomainError(MlNewsError):
    """A request the service refuses (invalid, unknown, conflicting, nothing deployed)."""

    code = "domain_error"


class InvalidInput(DomainError):
    """The request is well-formed JSON but its content is not acceptable."""

    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request collides with the current state (e.g. a concurrent deploy or a running retraining)."""

    code = "conflict"


class NoActiveModel(DomainError):
    """Nothing is deployed yet: predictions cannot be served."""

    code = "no_active_model"


class InvalidPredictionId(InvalidInput):
    """A prediction_id that was not issued by this service or does not match the headline."""

    code = "invalid_prediction_id"
