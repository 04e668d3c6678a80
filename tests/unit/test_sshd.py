"""Unit tests for filter_plugins/sshd.py."""

import pytest
from ansible.errors import AnsibleFilterError
from sshd import moduli_at_least, sshd_effective_differences, sshd_settings

MODULI = """\
#    $OpenBSD: moduli,v 1.33 2022/05/01 $
# Time Type Tests Tries Size Generator Modulus
20220101000000 2 6 100 2047 2 C0FFEE1
20220101000000 2 6 100 3071 5 C0FFEE2
20220101000000 2 6 100 4095 2 C0FFEE3
"""


@pytest.mark.parametrize(
    ("bits", "kept"),
    [
        (2048, ["C0FFEE1", "C0FFEE2", "C0FFEE3"]),
        (3072, ["C0FFEE2", "C0FFEE3"]),
        (4096, ["C0FFEE3"]),
    ],
)
def test_moduli_at_least_keeps_comments_and_large_moduli(bits, kept):
    out = moduli_at_least(MODULI, bits)
    assert out.startswith("#    $OpenBSD")
    assert [line.split()[-1] for line in out.splitlines() if not line.startswith("#")] == kept


@pytest.mark.parametrize(
    ("text", "bits", "message"),
    [
        (MODULI, 8192, "no modulus of 8192 bits"),
        ("garbage line\n", 3072, "not a moduli line"),
        (None, 3072, "expected the moduli file as text"),
        (MODULI, "lots", "bits must be an integer"),
    ],
)
def test_moduli_at_least_rejects_bad_input(text, bits, message):
    with pytest.raises(AnsibleFilterError, match=message):
        moduli_at_least(text, bits)


DROPIN = """\
# Managed by Ansible
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_rsa_key
PermitRootLogin no
AllowGroups sysadmin deploy
PasswordAuthentication no
LoginGraceTime 30
LogLevel VERBOSE
"""

# As `sshd -T` prints the same settings: lower-case keywords, one line per group, seconds.
SSHD_T = """\
port 22
hostkey /etc/ssh/ssh_host_ed25519_key
hostkey /etc/ssh/ssh_host_rsa_key
permitrootlogin no
allowgroups sysadmin
allowgroups deploy
passwordauthentication no
logingracetime 30
loglevel VERBOSE
x11forwarding no
"""


def test_sshd_runs_the_role_settings():
    assert sshd_effective_differences(SSHD_T, DROPIN) == {"effective": {}, "wanted": {}}


def test_a_drop_in_read_first_shows_as_a_difference():
    rogue = SSHD_T.replace("permitrootlogin no", "permitrootlogin yes").replace(
        "passwordauthentication no", "passwordauthentication yes")
    assert sshd_effective_differences(rogue, DROPIN) == {
        "effective": {"passwordauthentication": "yes", "permitrootlogin": "yes"},
        "wanted": {"passwordauthentication": "no", "permitrootlogin": "no"},
    }


def test_time_values_compare_in_seconds_and_match_blocks_are_not_global():
    dropin = DROPIN.replace("LoginGraceTime 30", "LoginGraceTime 1m30s") + "Match User backup\n  PermitRootLogin yes\n"
    assert sshd_settings(dropin)["logingracetime"] == ["90"]
    assert sshd_settings(dropin)["permitrootlogin"] == ["no"]
    assert sshd_effective_differences(SSHD_T, dropin)["wanted"] == {"logingracetime": "90"}


def test_an_empty_sshd_t_output_is_an_error():
    with pytest.raises(AnsibleFilterError, match="no settings"):
        sshd_effective_differences("", DROPIN)
