"""Domain errors raised by services. Views show them next to the field they name; the API
turns them into 400 responses (portal.api.exception_handler)."""


class DomainError(Exception):
    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class NotAllowed(DomainError):
    def __init__(self, message: str = "You are not allowed to do that."):
        super().__init__(message, code="not_allowed")
