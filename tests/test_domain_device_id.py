"""Device ID rules: id_type parsing, normalising typed IDs, Luhn, examples, free-text finds."""

from __future__ import annotations

import pytest

from bot.domain.device_id import (
    IdCheck,
    IdKind,
    IdProblem,
    IdRule,
    check_device_id,
    example_id,
    find_id_candidates,
    imei_from_imeisv,
    luhn_check_digit,
    luhn_valid,
    parse_id_type,
)

IMEI = "356938035643809"
IMEI_RULE = parse_id_type("imei")


@pytest.mark.parametrize(
    ("id_type", "rule"),
    [
        ("imei", IdRule(IdKind.IMEI, 15, 15)),
        (" IMEI ", IdRule(IdKind.IMEI, 15, 15)),
        ("meid", IdRule(IdKind.MEID, 14, 14)),
        ("id,7", IdRule(IdKind.DIGITS, 7, 7)),
        ("id,8", IdRule(IdKind.DIGITS, 8, 8)),
        ("ascii,12,17", IdRule(IdKind.ASCII, 12, 17)),
        ("ascii,6,64", IdRule(IdKind.ASCII, 6, 32)),  # the API enforces 32
        ("ascii,40,64", IdRule(IdKind.ASCII, 32, 32)),
        ("ascii,0,10", IdRule(IdKind.ASCII, 1, 10)),
        ("10,2", IdRule(IdKind.GENERATED, 10, 10, prefix="2")),
        ("12,1", IdRule(IdKind.GENERATED, 12, 12, prefix="1")),
        ("something-new", IdRule(IdKind.ASCII, 1, 64)),
        ("", IdRule(IdKind.ASCII, 1, 64)),
        ("id,x", IdRule(IdKind.ASCII, 1, 64)),
    ],
)
def test_parse_id_type(id_type: str, rule: IdRule) -> None:
    assert parse_id_type(id_type) == rule


def test_asks_user_only_for_ids_the_device_has() -> None:
    assert parse_id_type("imei").asks_user
    assert parse_id_type("ascii,6,64").asks_user
    assert not parse_id_type("10,2").asks_user


def test_luhn() -> None:
    assert luhn_valid(IMEI)
    assert luhn_valid("490154203237518")
    assert not luhn_valid("356938035643808")
    assert not luhn_valid("")
    assert not luhn_valid("35693803564380x")
    assert luhn_check_digit(IMEI[:14]) == IMEI[14]
    # Every wrong check digit is caught.
    assert [d for d in "0123456789" if luhn_valid(IMEI[:14] + d)] == [IMEI[14]]


@pytest.mark.parametrize(
    "raw",
    [
        IMEI,
        f"  {IMEI}  ",
        "356 938 035 643 809",
        "35-693803-564380-9",
        "35\u2013693803\u2013564380\u20139",  # en dashes
        f"IMEI {IMEI}",
        f"imei:{IMEI}",
        f"IMEI: {IMEI}.",
        f"IMEI/SN: {IMEI}",
        f"ID: {IMEI}",
        f'"{IMEI}"',
        f"({IMEI});",
        "３５６９３８０３５６４３８０９",  # full-width digits
        "٣٥٦٩٣٨٠٣٥٦٤٣٨٠٩",  # Arabic-Indic digits
    ],
)
def test_imei_is_normalised(raw: str) -> None:
    check = check_device_id(IMEI_RULE, raw)
    assert check == IdCheck(IMEI, None)
    assert check.ok


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", IdProblem.EMPTY),
        ("   ", IdProblem.EMPTY),
        ("IMEI:", IdProblem.EMPTY),
        ("35693803564380A", IdProblem.BAD_CHARACTERS),
        ("356938035643809/1", IdProblem.BAD_CHARACTERS),
        ("35693803564380", IdProblem.TOO_SHORT),
        ("35693803564380912", IdProblem.TOO_LONG),
        ("3569380356438001", IdProblem.WRONG_LENGTH),  # 16 digits: an IMEISV
        ("356938035643808", IdProblem.BAD_CHECKSUM),
        ("365938035643809", IdProblem.BAD_CHECKSUM),  # swapped neighbours
    ],
)
def test_imei_problems(raw: str, problem: IdProblem) -> None:
    check = check_device_id(IMEI_RULE, raw)
    assert check.problem is problem
    assert check.value is None
    assert not check.ok


def test_imeisv_is_converted_only_when_labelled() -> None:
    assert imei_from_imeisv("3569380356438001") == IMEI
    assert check_device_id(IMEI_RULE, "IMEISV: 3569380356438001") == IdCheck(IMEI, None)
    assert check_device_id(IMEI_RULE, "IMEI SV 35693803 56438001").value == IMEI
    assert check_device_id(IMEI_RULE, "3569380356438001").problem is IdProblem.WRONG_LENGTH


def test_meid() -> None:
    rule = parse_id_type("meid")
    assert check_device_id(rule, "A10000009296F2").value == "A10000009296F2"
    assert check_device_id(rule, "meid: a1000000 9296f2").value == "A10000009296F2"
    assert check_device_id(rule, "A1-0000-0092-96F2").value == "A10000009296F2"
    # A Russian keyboard user typing the letters A/C/E/B in Cyrillic.
    assert check_device_id(rule, "А10000009296Е2").value == "A10000009296E2"
    assert check_device_id(rule, "A10000009296G2").problem is IdProblem.BAD_CHARACTERS
    assert check_device_id(rule, "A10000009296F").problem is IdProblem.TOO_SHORT
    assert check_device_id(rule, "A10000009296F21").problem is IdProblem.TOO_LONG


def test_digits() -> None:
    rule = parse_id_type("id,8")
    assert check_device_id(rule, "1234 5678").value == "12345678"
    assert check_device_id(rule, "ID: 12-34-56-78").value == "12345678"
    assert check_device_id(rule, "1234567").problem is IdProblem.TOO_SHORT
    assert check_device_id(rule, "123456789").problem is IdProblem.TOO_LONG
    assert check_device_id(rule, "1234567O").problem is IdProblem.BAD_CHARACTERS


def test_generated_ids_are_checked_but_never_asked() -> None:
    rule = parse_id_type("10,2")
    assert check_device_id(rule, "2123456789").value == "2123456789"
    assert check_device_id(rule, "3123456789").problem is IdProblem.BAD_CHARACTERS
    assert find_id_candidates(rule, "ID 2123456789") == []


def test_ascii_keeps_hyphens_and_inner_spaces_are_bad() -> None:
    rule = parse_id_type("ascii,6,64")
    assert check_device_id(rule, "  fleet-sensor-0042 ").value == "fleet-sensor-0042"
    assert check_device_id(rule, "ID: Fleet-42x").value == "Fleet-42x"
    assert check_device_id(rule, "ID-1234").value == "ID-1234"  # no colon: part of the ID
    assert check_device_id(rule, "fleet sensor").problem is IdProblem.BAD_CHARACTERS
    assert check_device_id(rule, "fleet_sensor").problem is IdProblem.BAD_CHARACTERS
    assert check_device_id(rule, "abc12").problem is IdProblem.TOO_SHORT
    assert check_device_id(rule, "a" * 33).problem is IdProblem.TOO_LONG
    assert check_device_id(rule, "a" * 32).value == "a" * 32
    # Cyrillic look-alikes become the Latin letters the label shows.
    assert check_device_id(rule, "АВС-123").value == "ABC-123"
    unknown = parse_id_type("whatever")
    assert check_device_id(unknown, "x").value == "x"
    assert check_device_id(unknown, "x" * 65).problem is IdProblem.TOO_LONG


@pytest.mark.parametrize(
    "id_type", ["imei", "meid", "id,1", "id,7", "id,20", "ascii,1,1", "ascii,6,64",
                "ascii,12,17", "ascii,20,64", "ascii,40,64", "10,2", "12,1", "odd"],
)  # fmt: skip
def test_examples_pass_their_own_rule(id_type: str) -> None:
    rule = parse_id_type(id_type)
    example = example_id(rule)
    assert check_device_id(rule, example) == IdCheck(example, None)


def test_example_values() -> None:
    assert example_id(parse_id_type("imei")) == IMEI
    assert example_id(parse_id_type("meid")) == "A10000009296F2"
    assert example_id(parse_id_type("id,7")) == "1234567"
    assert example_id(parse_id_type("ascii,12,17")) == "fleet-sensor-0042"
    assert example_id(parse_id_type("10,2")).startswith("2")


def test_candidates_from_a_qr_payload() -> None:
    assert find_id_candidates(IMEI_RULE, f"IMEI:{IMEI};SN:ABC123") == [IMEI]
    assert find_id_candidates(IMEI_RULE, f"IMEI{IMEI}") == [IMEI]


def test_candidates_never_cut_longer_digit_runs() -> None:
    iccid_20 = "89490200001234567890"
    iccid_19 = "8949020000123456789"
    assert find_id_candidates(IMEI_RULE, f"ICCID {iccid_20} {iccid_19}") == []
    # 16 or 18 digits containing a valid IMEI are not an IMEI.
    assert find_id_candidates(IMEI_RULE, f"1{IMEI} {IMEI}123") == []
    # Glued to a serial number's letters: not an IMEI.
    assert find_id_candidates(IMEI_RULE, f"SN:ABC{IMEI}") == []


def test_candidates_from_ocr_text() -> None:
    text = "Model FMB140\nS/N 1101234567\nIMEI 35 693803 564380 9\nICCID 8949020000123456789\n"
    assert find_id_candidates(IMEI_RULE, text) == [IMEI]
    # Two Luhn-valid numbers: the one labelled IMEI first; a bad checksum is dropped.
    text = f"490154203237518 / 356938035643808 / IMEI: {IMEI}"
    assert find_id_candidates(IMEI_RULE, text) == [IMEI, "490154203237518"]
    assert find_id_candidates(IMEI_RULE, "IMEISV: 3569380356438001") == [IMEI]
    assert find_id_candidates(IMEI_RULE, f"{IMEI} {IMEI}") == [IMEI]


def test_candidates_for_other_kinds() -> None:
    assert find_id_candidates(parse_id_type("id,8"), "Box S/N: 12345678, batch 2024") == [
        "12345678"
    ]
    assert find_id_candidates(parse_id_type("meid"), "MEID:A10000009296F2 ESN 80A1B2C3") == [
        "A10000009296F2"
    ]
    found = find_id_candidates(parse_id_type("ascii,6,32"), "ID: fleet-sensor-0042 model NGP")
    assert found == ["fleet-sensor-0042"]
