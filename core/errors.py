"""Domain errors. Handlers map them to HTTP status codes; core never speaks HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: `code` is a stable machine-readable name, the message is for humans."""

    code = "domain_error"

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


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
