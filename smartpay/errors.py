"""Domain errors. Each names what was wrong and what was expected."""

from __future__ import annotations


class SmartPayError(Exception):
    """Base class for errors a user can act on."""


class InputError(SmartPayError):
    """Bad input at a boundary: names the field, the value and what was expected."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.field, self.value, self.expected = field, value, expected
        super().__init__(f"{field}: got {value!r}, expected {expected}")


class DataFileError(SmartPayError):
    """A data file is missing, unreadable or corrupt."""

    def __init__(self, path: object, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


class ValidationFailed(SmartPayError):
    """A data-quality suite failed; nothing downstream was written."""
