"""VAT and registration numbers are checked with python-stdnum for the organisation's country."""

import pytest

from accounts.registration_numbers import check_registration_number


@pytest.mark.parametrize(
    ("country", "number", "compact"),
    [
        ("NO", "971 035 854", "971035854"),  # University of Oslo, organisasjonsnummer
        ("NO", "NO 971 035 854 MVA", "971035854MVA"),  # the same as a VAT number
        ("DE", "DE 136 695 976", "136695976"),
        ("GB", "GB 980 7806 84", "980780684"),
        ("CH", "CHE-100.155.212", "CHE100155212"),
        ("FR", "732 829 320", "732829320"),  # SIREN
        ("FR", "FR 40 303 265 045", "40303265045"),  # TVA
        ("no", "971035854", "971035854"),  # lower-case country codes too
    ],
)
def test_a_valid_number_is_accepted_and_compacted(country: str, number: str, compact: str) -> None:
    check = check_registration_number(country, number)

    assert check.valid is True
    assert check.number == compact
    assert check.label.startswith(f"valid {country.upper()} ")


@pytest.mark.parametrize(
    ("country", "number"),
    [
        ("NO", "971035855"),  # wrong check digit
        ("NO", "12345"),
        ("DE", "DE136695977"),
        ("GB", "GB980780685"),
        ("CH", "CHE-100.155.213"),
        ("FR", "732829321"),
        ("FR", "not a number"),
        ("DE", "971035854"),  # a Norwegian number is not German
    ],
)
def test_an_invalid_number_is_refused_naming_the_schemes_tried(country: str, number: str) -> None:
    check = check_registration_number(country, number)

    assert check.valid is False
    assert check.number == number.strip()
    assert check.label.startswith("invalid ")
    assert f"{country} vat" in check.scheme


def test_a_country_without_a_validator_accepts_the_number_unchecked() -> None:
    check = check_registration_number("LI", "  FL-0002.123.456-7 ")

    assert check.valid is None
    assert check.number == "FL-0002.123.456-7"
    assert check.label == "no validator for this country"


def test_an_unknown_country_has_no_validator() -> None:
    assert check_registration_number("XX", "123").valid is None
