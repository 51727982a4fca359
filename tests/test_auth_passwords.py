"""New passwords against the list of common and breached passwords (issue 19, item 11):
the command line, the admin's new-user form and the password change refuse them."""

from __future__ import annotations

import pytest

from crm.auth.passwords import WeakPassword, check_policy
from tests.auth_helpers import field_errors, logged_in, post_form
from tests.conftest import PASSWORD

REFUSED = (
    "Password2024!",
    "Qwerty123456",
    "P@ssw0rd2026",
    "1qaz2wsx3edc",
    "PASSWORD-2024",
    "iloveyou1314!",
    "Dragon!!2025",
    "qwertyuiop123",
    "Summer2024!!",
)
COMMON_ERROR = (
    "This password is too common: it is on a list of passwords known from data breaches, "
    "or close to one. Choose another."
)


@pytest.mark.parametrize("password", REFUSED)
def test_common_passwords_and_their_variants_are_refused(password):
    with pytest.raises(WeakPassword) as refused:
        check_policy(password, "someone@test.crm")
    assert refused.value.code == "common"


@pytest.mark.parametrize("password", [PASSWORD, "Correct-Horse-Battery-9", "Ab#938475620!", "Quiet-Lantern-Moss-81"])
def test_uncommon_passwords_pass(password):
    check_policy(password, "someone@test.crm")


@pytest.mark.parametrize("password", ["Password2024!", "Qwerty123456", "P@ssw0rd2026", "1qaz2wsx3edc"])
def test_the_command_line_refuses_them_with_a_one_line_reason(runner, password):
    result = runner.invoke(
        args=["users", "create", "x@test.crm", "--role", "admin", "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "Error: password refused: a common password, or one found in data breaches"
    ]


def test_the_new_user_form_says_why(app, make_user, database):
    from sqlalchemy import func, select

    from crm.models import User

    _, admin_email = make_user("admin")
    admin = logged_in(app, admin_email)
    response = post_form(
        admin.client,
        "/admin/users/new",
        {"email": "new@test.crm", "full_name": "新人", "role": "underwriter", "password": "P@ssw0rd2026"},
    )
    assert response.status_code == 422
    assert COMMON_ERROR in field_errors(response.get_data(as_text=True))
    response = post_form(
        admin.client,
        "/admin/users/new",
        {"email": "new@test.crm", "full_name": "新人", "role": "underwriter", "password": PASSWORD},
    )
    assert response.status_code == 302
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.email == "new@test.crm")) == 1


def test_the_password_change_says_why(app, make_user):
    _, email = make_user("claims_reviewer")
    user = logged_in(app, email)
    response = post_form(
        user.client, "/account/password", {"current": PASSWORD, "new": "Qwerty123456", "confirm": "Qwerty123456"}
    )
    assert response.status_code == 422
    assert COMMON_ERROR in field_errors(response.get_data(as_text=True))
    user.logout()
    assert user.login(email).status_code == 302  # the old password still holds


def test_the_refusal_is_in_chinese_for_a_chinese_user(app, make_user):
    _, email = make_user("claims_reviewer", locale="zh")
    user = logged_in(app, email)
    response = post_form(
        user.client, "/account/password", {"current": PASSWORD, "new": "Password2024!", "confirm": "Password2024!"}
    )
    assert any("此密码过于常见" in error for error in field_errors(response.get_data(as_text=True)))
