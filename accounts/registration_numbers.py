"""VAT and company registration numbers, validated with python-stdnum where it knows the country."""

from dataclasses import dataclass
from typing import Any

from stdnum import get_cc_module
from stdnum.exceptions import ValidationError as StdnumValidationError

# Per country, the stdnum modules tried in order: VAT first, then national company registers.
_MODULE_NAMES = (
    "vat",
    "orgnr",
    "uid",
    "mva",
    "company",
    "brn",
    "kvk",
    "siren",
    "cif",
    "nif",
    "ein",
)


@dataclass(frozen=True)
class RegistrationCheck:
    """What the validator said: ``valid`` is None when no validator exists for the country."""

    number: str
    valid: bool | None
    scheme: str

    @property
    def label(self) -> str:
        if self.valid is None:
            return "no validator for this country"
        return f"valid {self.scheme}" if self.valid else f"invalid {self.scheme}"


def _validators(country: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name in _MODULE_NAMES:
        module = get_cc_module(country.lower(), name)
        if module is not None and hasattr(module, "validate"):
            found.append((name, module))
    return found


def check_registration_number(country: str, number: str) -> RegistrationCheck:
    """Validate ``number`` against every known scheme of ``country``; compact it when valid."""
    validators = _validators(country)
    if not validators:
        return RegistrationCheck(number=number.strip(), valid=None, scheme="")
    for name, module in validators:
        try:
            compact = module.validate(number)
        except StdnumValidationError:
            continue
        return RegistrationCheck(
            number=str(compact), valid=True, scheme=f"{country.upper()} {name}"
        )
    scheme = " / ".join(f"{country.upper()} {name}" for name, _ in validators)
    return RegistrationCheck(number=number.strip(), valid=False, scheme=scheme)
