"""Filters for the common role. Pure functions; tests: tests/unit/test_common.py.

    {{ settings | common_problems }}  -> the role's preflight: [message naming the variable, ...]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: common_problems
short_description: The common role's cross-variable rules - one message per broken rule, naming the variable
description:
  - settings holds the role's variables without the common_ prefix (admin_users, admin_users_removed,
    admin_sudo_nopasswd, timezone, locale, chrony_local_stratum) and connection_user, the user Ansible connects as.
    An administrator's password_hash is only looked for, never printed.
"""

LOGIN_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
TIMEZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")
LOCALE = re.compile(r"^[a-z]{2,3}_[A-Z]{2}\.UTF-8$|^C\.UTF-8$")
SETTINGS = ("admin_users", "admin_users_removed", "admin_sudo_nopasswd", "timezone", "locale", "chrony_local_stratum",
            "connection_user")


def _names(settings: Mapping) -> list:
    return [str(user.get("name", "")) for user in settings["admin_users"]]


def _rule_admin_names(settings: Mapping) -> list:
    names = _names(settings)
    if any(count > 1 for count in Counter(names).values()) or not all(LOGIN_NAME.match(name) for name in names):
        return [f"common_admin_users: names must be unique valid login names; got {names}"]
    return []


def _rule_admin_keys(settings: Mapping) -> list:
    keyless = [str(user.get("name", "")) for user in settings["admin_users"] if not user.get("ssh_keys")]
    return [f"common_admin_users: these administrators have no ssh_keys: {keyless}"] if keyless else []


def _rule_kept_or_removed(settings: Mapping) -> list:
    both = [name for name in _names(settings) if name in settings["admin_users_removed"]]
    return [f"common_admin_users and common_admin_users_removed both list {both}"] if both else []


def _rule_connection_user_kept(settings: Mapping) -> list:
    user = settings["connection_user"]
    if user in settings["admin_users_removed"]:
        return [f"common_admin_users_removed lists {user}, the user Ansible connects as; removing it would lock "
                "Ansible out."]
    return []


def _rule_sudo_password(settings: Mapping) -> list:
    if settings["admin_sudo_nopasswd"]:
        return []
    without = [str(user.get("name", "")) for user in settings["admin_users"] if "password_hash" not in user]
    if without:
        return ["common_admin_sudo_nopasswd is false but these common_admin_users have no password_hash (set it "
                f"from the vault): {without}"]
    return []


def _rule_time_and_locale(settings: Mapping) -> list:
    if TIMEZONE.match(str(settings["timezone"])) and LOCALE.match(str(settings["locale"])):
        return []
    return [f"common_timezone ({settings['timezone']}) must be a zoneinfo name such as Etc/UTC and common_locale "
            f"({settings['locale']}) a UTF-8 locale such as en_US.UTF-8"]


def _rule_chrony_stratum(settings: Mapping) -> list:
    try:
        stratum = int(settings["chrony_local_stratum"])
    except (TypeError, ValueError):
        stratum = -1
    if 0 <= stratum <= 15:
        return []
    return [f"common_chrony_local_stratum must be 0 (off) to 15, got {settings['chrony_local_stratum']}"]


COMMON_RULES: tuple[Callable[[Mapping], list], ...] = (
    _rule_admin_names, _rule_admin_keys, _rule_kept_or_removed, _rule_connection_user_kept, _rule_sudo_password,
    _rule_time_and_locale, _rule_chrony_stratum,
)


def common_problems(settings) -> list:
    """Every broken cross-variable rule of the common role, in COMMON_RULES' order, each naming the variable."""
    if not isinstance(settings, Mapping):
        # The type only: the settings hold the administrators' password hashes.
        raise AnsibleFilterError("common_problems: expected the role's settings as a dictionary, "
                                 f"got a {type(settings).__name__}")
    missing = [key for key in SETTINGS if key not in settings]
    if missing:
        raise AnsibleFilterError(f"common_problems: settings lack {', '.join(missing)}")
    users = settings["admin_users"]
    if not isinstance(users, list) or not all(isinstance(user, Mapping) for user in users):
        raise AnsibleFilterError("common_problems: admin_users must be a list of dictionaries")
    return [problem for rule in COMMON_RULES for problem in rule(settings)]


class FilterModule:
    """common filters."""

    def filters(self):
        return {"common_problems": common_problems}
