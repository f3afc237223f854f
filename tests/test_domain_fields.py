"""Free-text registration fields: label, APN, activation code, e-mail, plate suggestion."""

from __future__ import annotations

import pytest

from bot.domain.fields import (
    FieldCheck,
    FieldProblem,
    check_activation_code,
    check_apn_name,
    check_apn_password,
    check_apn_user,
    check_email,
    check_label,
)


def ok(value: str) -> FieldCheck:
    return FieldCheck(value, None)


def bad(problem: FieldProblem) -> FieldCheck:
    return FieldCheck(None, problem)


def test_label() -> None:
    assert check_label("  Van 12 ") == ok("Van 12")
    assert check_label("Van\n12   north") == ok("Van 12 north")
    assert check_label("Грузовик №7 🚚") == ok("Грузовик №7 🚚")
    assert check_label("x" * 60) == ok("x" * 60)
    assert check_label("x" * 61) == bad(FieldProblem.TOO_LONG)
    assert check_label("🚚" * 30).ok  # 60 UTF-16 units
    assert check_label("🚚" * 31) == bad(FieldProblem.TOO_LONG)
    assert check_label("   ") == bad(FieldProblem.EMPTY)
    assert check_label("<b>Van</b>") == bad(FieldProblem.BAD_CHARACTERS)
    assert check_label("Van\x0012") == bad(FieldProblem.BAD_CHARACTERS)
    assert check_label("Van 12").ok


def test_apn_name_and_user() -> None:
    assert check_apn_name(" internet.t-mobile ") == ok("internet.t-mobile")
    assert check_apn_name("m2m.provider_x@corp") == ok("m2m.provider_x@corp")
    assert check_apn_name("my apn") == ok("my apn")
    assert check_apn_name("") == bad(FieldProblem.EMPTY)
    assert check_apn_name("a" * 41) == bad(FieldProblem.TOO_LONG)
    assert check_apn_name("a" * 40).ok
    assert check_apn_name("интернет") == bad(FieldProblem.BAD_CHARACTERS)
    assert check_apn_name("inter/net") == bad(FieldProblem.BAD_CHARACTERS)
    assert check_apn_user("") == ok("")
    assert check_apn_user(" tmobile ") == ok("tmobile")
    assert check_apn_user("user:1") == bad(FieldProblem.BAD_CHARACTERS)
    assert check_apn_user("u" * 41) == bad(FieldProblem.TOO_LONG)


def test_apn_password() -> None:
    assert check_apn_password("p@ss w0rd!§") == ok("p@ss w0rd!§")
    assert check_apn_password(" secret \n") == ok("secret")
    assert check_apn_password("") == ok("")
    assert check_apn_password("p" * 41) == bad(FieldProblem.TOO_LONG)
    assert check_apn_password("pa\tss") == bad(FieldProblem.BAD_CHARACTERS)
    assert check_apn_password("pa\u200bss") == bad(FieldProblem.BAD_CHARACTERS)


def test_activation_code() -> None:
    assert check_activation_code("6045325592") == ok("6045325592")
    assert check_activation_code(" 604 532-5592 ") == ok("6045325592")
    assert check_activation_code("６０４５") == ok("6045")
    assert check_activation_code("123") == ok("123")
    assert check_activation_code("12") == bad(FieldProblem.TOO_SHORT)
    assert check_activation_code("1" * 21) == bad(FieldProblem.TOO_LONG)
    assert check_activation_code("1" * 20).ok
    assert check_activation_code("12a45") == bad(FieldProblem.BAD_CHARACTERS)
    assert check_activation_code(" - ") == bad(FieldProblem.EMPTY)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("ivan@example.com", "ivan@example.com"),
        ("  Ivan.Petrov@Example.COM ", "Ivan.Petrov@example.com"),
        ("mailto:fleet+alerts@mail.co.uk", "fleet+alerts@mail.co.uk"),
        ("<a_b@sub-domain.example.org>", "a_b@sub-domain.example.org"),
    ],
)
def test_email_ok(raw: str, value: str) -> None:
    assert check_email(raw) == ok(value)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", FieldProblem.EMPTY),
        ("ivan", FieldProblem.BAD_FORMAT),
        ("ivan@localhost", FieldProblem.BAD_FORMAT),
        ("a..b@example.com", FieldProblem.BAD_FORMAT),
        (".a@example.com", FieldProblem.BAD_FORMAT),
        ("a b@example.com", FieldProblem.BAD_FORMAT),
        ("a@-example.com", FieldProblem.BAD_FORMAT),
        ("a@example.c", FieldProblem.BAD_FORMAT),
        ("x" * 65 + "@example.com", FieldProblem.BAD_FORMAT),
        ("a@" + "b" * 250 + ".com", FieldProblem.TOO_LONG),
    ],
)
def test_email_problems(raw: str, problem: FieldProblem) -> None:
    assert check_email(raw) == bad(problem)
