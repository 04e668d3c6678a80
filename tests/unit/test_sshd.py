"""Unit tests for filter_plugins/sshd.py."""

import pytest
from ansible.errors import AnsibleFilterError
from sshd import moduli_at_least

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
