"""The domain's error tree. Messages are safe to show to a client; nothing here imports chalice."""

from __future__ import annotations


class CartableError(Exception):
    """Base of every error the API turns into the contract's error body."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.audit_reason: str | None = None  # why it was denied, for the audit trail only

    def because(self, reason: str) -> CartableError:
        """Attach the decision's reason (never shown to the client)."""
        self.audit_reason = reason
        return self


class BadRequestError(CartableError):
    status = 400
    code = "bad_request"


class UnauthorizedError(CartableError):
    status = 401
    code = "unauthorized"


class ForbiddenError(CartableError):
    status = 403
    code = "forbidden"


class QuotaExceededError(ForbiddenError):
    code = "quota_exceeded"


class AssignmentClosedError(ForbiddenError):
    code = "assignment_closed"


class NotFoundError(CartableError):
    """Missing, or invisible to the caller: both answer exactly the same, whatever the resource."""

    status = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__("Not found.")


class ConflictError(CartableError):
    status = 409
    code = "conflict"


class NotAvailableError(CartableError):
    status = 409
    code = "not_available"


class CursorExpiredError(CartableError):
    """A cursor the server can no longer honour: the device starts again without one."""

    status = 410
    code = "cursor_expired"


class PayloadTooLargeError(CartableError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(CartableError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequestsError(CartableError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, for the Retry-After header


class ServiceUnavailableError(CartableError):
    """A part we depend on is down or throttling: the client may retry later."""

    status = 503
    code = "service_unavailable"


class ContentionError(ServiceUnavailableError):
    """Two transactions met on one item (DynamoDB's TransactionConflict): nobody's precondition failed,
    so the adapter tries again; a 503 only if contention outlasts its bound."""


class ConfigurationError(CartableError):
    """Settings are missing or wrong: the function cannot start."""


class AlreadyExistsError(CartableError):
    """A conditional write found the item already there (adapter-level)."""

    status = 409
    code = "conflict"


class StaleWriteError(CartableError):
    """A conditional update lost a race or found the item moved on (adapter-level)."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, failed: list[int] | None = None) -> None:
        super().__init__(message)
        self.failed = failed or []  # the indexes of a transaction's actions whose condition failed


class ScannerUnavailableError(CartableError):
    """clamd is unreachable or answered something that is not a verdict: retry, never a verdict."""

    status = 503
    code = "service_unavailable"
