"""Unit tests for filter_plugins/packages.py (which packages apt still has to install)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from packages import dpkg_missing, dpkg_present

# dpkg-query --show --showformat='${db:Status-Abbrev}${Package}\n' chrony locales cron rsyslog
ANSWER = "ii chrony\nii locales\nrc cron\n"


def test_every_package_installed_leaves_nothing_for_apt():
    assert dpkg_missing("ii chrony\nii locales\n", ["chrony", "locales"]) == []


def test_a_package_dpkg_does_not_know_or_only_remembers_is_missing():
    # rsyslog: no line (never installed); cron: removed, its configuration kept.
    assert dpkg_missing(ANSWER, ["chrony", "cron", "locales", "rsyslog"]) == ["cron", "rsyslog"]


@pytest.mark.parametrize("line", ["iU chrony", "iF chrony", "iiR chrony", "hi chrony", "un chrony", "pn chrony"])
def test_a_package_not_fully_installed_or_flagged_for_reinstallation_is_missing(line):
    assert dpkg_missing(f"{line}\n", ["chrony"]) == ["chrony"]


def test_a_name_with_a_version_or_an_architecture_is_left_to_apt():
    assert dpkg_missing("ii chrony\n", ["chrony=4.3-2", "chrony:amd64"]) == ["chrony=4.3-2", "chrony:amd64"]


def test_a_name_asked_twice_is_reported_once():
    assert dpkg_missing("", ["nftables", "netbase", "nftables"]) == ["nftables", "netbase"]


@pytest.mark.parametrize(("output", "packages"), [(None, ["chrony"]), ("ii chrony\n", "chrony"), ("", [1])])
def test_wrong_input_is_refused(output, packages):
    with pytest.raises(AnsibleFilterError, match="dpkg_missing"):
        dpkg_missing(output, packages)


def test_a_package_installed_or_with_its_configuration_left_is_present_for_a_purge():
    answer = "ii telnet\nrc rsh-client\nun talk\npn nis\n"
    assert dpkg_present(answer, ["nis", "rsh-client", "talk", "telnet", "xinetd"]) == ["rsh-client", "telnet"]


def test_nothing_known_leaves_nothing_to_remove():
    assert dpkg_present("", ["telnet", "telnet"]) == []


def test_a_name_asked_twice_is_reported_present_once():
    assert dpkg_present("ii telnet\n", ["telnet", "telnet"]) == ["telnet"]


def test_wrong_input_is_refused_by_dpkg_present():
    with pytest.raises(AnsibleFilterError, match="dpkg_present"):
        dpkg_present(None, ["telnet"])
