"""Errors that carry their HTTP status, raised by services and mapped by one handler."""

from __future__ import annotations


class GridGovError(Exception):
    """Base error: a stable ``code``, an HTTP ``status`` and a message a person can act on."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_dict(self) -> dict:
        body = {"code": self.code, "description": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidParameter(GridGovError):
    status = 400
    code = "InvalidParameterValue"


class NotFound(GridGovError):
    status = 404
    code = "not_found"


class OutsideCounty(NotFound):
    code = "outside_county"


class Forbidden(GridGovError):
    status = 403
    code = "forbidden"


class Conflict(GridGovError):
    status = 409
    code = "conflict"


class PreconditionFailed(GridGovError):
    """An If-Match that names a version other than the current one: someone changed it meanwhile."""

    status = 412
    code = "precondition_failed"


class PreconditionRequired(GridGovError):
    """A write that must say which version it was made against (If-Match) and did not."""

    status = 428
    code = "precondition_required"


class InvalidGeometry(GridGovError):
    status = 422
    code = "invalid_geometry"


class InvalidDataset(GridGovError):
    """A file to import has defects; ``details`` lists them (kind, code, where, message)."""

    status = 422
    code = "invalid_dataset"
