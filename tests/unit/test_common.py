"""Unit tests for filter_plugins/common.py (the common role's preflight rules)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from common import common_problems

ALICE = {"name": "alice", "ssh_keys": ["ssh-ed25519 AAAA alice"], "password_hash": "$6$salt$hash"}
OK = {"admin_users": [ALICE], "admin_users_removed": ["carol"], "admin_sudo_nopasswd": False,
      "timezone": "Etc/UTC", "locale": "en_US.UTF-8", "chrony_local_stratum": 0, "connection_user": "debian"}


def test_an_administrator_with_keys_and_a_hash_breaks_no_rule():
    assert common_problems(OK) == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"admin_users": [ALICE, ALICE]},
     "common_admin_users: names must be unique valid login names; got ['alice', 'alice']"),
    ({"admin_users": [{**ALICE, "name": "Alice Smith"}]},
     "common_admin_users: names must be unique valid login names; got ['Alice Smith']"),
    ({"admin_users": [{**ALICE, "ssh_keys": []}]},
     "common_admin_users: these administrators have no ssh_keys: ['alice']"),
    ({"admin_users_removed": ["alice"]}, "common_admin_users and common_admin_users_removed both list ['alice']"),
    ({"admin_users_removed": ["debian"]},
     "common_admin_users_removed lists debian, the user Ansible connects as; removing it would lock Ansible out."),
    ({"admin_users": [{"name": "bob", "ssh_keys": ["k"]}]},
     "common_admin_sudo_nopasswd is false but these common_admin_users have no password_hash (set it from the "
     "vault): ['bob']"),
    ({"admin_users": [{"name": "bob", "ssh_keys": ["k"]}], "admin_sudo_nopasswd": True}, None),
    ({"timezone": "Mars/Olympus Mons"}, "common_timezone (Mars/Olympus Mons) must be a zoneinfo name such as "
                                        "Etc/UTC and common_locale (en_US.UTF-8) a UTF-8 locale such as en_US.UTF-8"),
    ({"locale": "en_US"}, "common_timezone (Etc/UTC) must be a zoneinfo name such as Etc/UTC and common_locale "
                          "(en_US) a UTF-8 locale such as en_US.UTF-8"),
    ({"chrony_local_stratum": 16}, "common_chrony_local_stratum must be 0 (off) to 15, got 16"),
    ({"chrony_local_stratum": "ten"}, "common_chrony_local_stratum must be 0 (off) to 15, got ten"),
])
def test_each_rule_is_broken_alone_with_its_message(changes, message):
    assert common_problems({**OK, **changes}) == ([message] if message else [])


def test_a_problem_never_prints_a_password_hash():
    problems = common_problems({**OK, "admin_users": [{**ALICE, "ssh_keys": []}, {**ALICE, "name": "Bad Name"}]})
    assert problems and not any("$6$" in problem for problem in problems)


@pytest.mark.parametrize(("settings", "match"), [
    ([OK], "common_problems: expected the role's settings as a dictionary, got a list"),
    ({key: value for key, value in OK.items() if key != "locale"}, "common_problems: settings lack locale"),
    ({**OK, "admin_users": "alice"}, "common_problems: admin_users must be a list of dictionaries"),
])
def test_settings_of_the_wrong_shape_are_an_error_naming_the_filter(settings, match):
    with pytest.raises(AnsibleFilterError, match=match):
        common_problems(settings)
