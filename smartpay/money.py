"""Money as integer minor units plus an ISO-4217 currency code. Never floats."""

from __future__ import annotations

from dataclasses import dataclass

from smartpay.errors import InputError

# Minor-unit exponent per supported ISO-4217 currency.
CURRENCY_EXPONENT: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "CHF": 2, "SEK": 2,
    "JPY": 0, "KRW": 0, "INR": 2, "BRL": 2, "MXN": 2, "SGD": 2,
}


def check_currency(code: str, field: str = "currency") -> str:
    """Return the upper-case code if it is a supported ISO-4217 currency."""
    if not isinstance(code, str) or code.upper() not in CURRENCY_EXPONENT:
        expected = "an ISO-4217 code among " + ", ".join(sorted(CURRENCY_EXPONENT))
        raise InputError(field, code, expected)
    return code.upper()


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents) of one currency."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise InputError("amount_minor", self.amount_minor, "an integer of minor units")
        object.__setattr__(self, "currency", check_currency(self.currency))

    @property
    def exponent(self) -> int:
        """Number of decimal places of the currency's major unit."""
        return CURRENCY_EXPONENT[self.currency]

    def major(self) -> str:
        """Human-readable major-unit string, e.g. '12.34 USD'."""
        exp = self.exponent
        if exp == 0:
            return f"{self.amount_minor} {self.currency}"
        sign = "-" if self.amount_minor < 0 else ""
        whole, frac = divmod(abs(self.amount_minor), 10**exp)
        return f"{sign}{whole}.{frac:0{exp}d} {self.currency}"
