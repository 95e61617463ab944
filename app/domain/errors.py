"""Coded business errors: the code is stable, the sentence comes from the message catalogue."""

from __future__ import annotations

from typing import Any


class BusinessError(Exception):
    """A request the business rules refuse; nothing was changed.

    Services raise it with a stable ``code`` and the facts as ``params``; whoever shows it
    to a person renders it with :func:`app.domain.messages.render` in the person's language.
    Sentences are never built by concatenation at the raise site.
    """

    code: str = "BUSINESS_RULE"

    def __init__(self, code: str | None = None, /, **params: Any) -> None:
        if code is not None:
            self.code = code
        self.params = params
        super().__init__(self.code, params)

    def message(self, lang: str = "zh") -> str:
        """The error in business language ("zh" or "en")."""
        from app.domain.messages import render

        return render(self.code, lang, **self.params)

    def __str__(self) -> str:
        return self.message("zh")


class IllegalTransition(BusinessError):
    """The order's current stage does not allow the requested change of stage."""

    code = "ORDER_TRANSITION_NOT_ALLOWED"


class VersionConflict(BusinessError):
    """Someone else changed the record after the caller read it (optimistic concurrency)."""

    code = "VERSION_CONFLICT"


class NotFound(BusinessError):
    """The record the caller named does not exist."""

    code = "NOT_FOUND"


class BasisRequired(BusinessError):
    """A key change was requested without an operator or without its basis (原始依据)."""

    code = "BASIS_REQUIRED"


class InvalidValue(BusinessError):
    """A value fails validation (money, quantity, address…)."""

    code = "INVALID_VALUE"
