"""Filters for OpenSSH server files. Pure functions; tests: tests/unit/test_sshd.py."""

from __future__ import annotations

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only without ansible-core installed
    class AnsibleFilterError(Exception):
        """Stand-in when ansible-core is absent."""

DOCUMENTATION = r"""
name: moduli_at_least
short_description: Keep only Diffie-Hellman moduli of at least N bits in an /etc/ssh/moduli text
description:
  - Each moduli line is "time type tests tries size generator modulus", where size is the
    modulus length minus one. Comment and blank lines are kept; shorter moduli are dropped.
  - Fails when no modulus would remain (sshd would fall back to fixed groups silently).
positional: bits
"""

EXAMPLES = r"""
content: "{{ moduli_text | moduli_at_least(3072) }}"
"""


def moduli_at_least(text: str, bits: int) -> str:
    """The moduli file text without moduli shorter than bits."""
    if not isinstance(text, str):
        raise AnsibleFilterError(f"moduli_at_least: expected the moduli file as text, got {type(text).__name__}")
    try:
        bits = int(bits)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"moduli_at_least: bits must be an integer, got {bits!r}") from None
    kept, moduli = [], 0
    for line in text.splitlines():
        fields = line.split()
        if not fields or line.lstrip().startswith("#"):
            kept.append(line)
            continue
        if len(fields) != 7 or not fields[4].isdigit():
            raise AnsibleFilterError(f"moduli_at_least: not a moduli line: {line[:60]!r}")
        if int(fields[4]) + 1 >= bits:
            kept.append(line)
            moduli += 1
    if moduli == 0:
        raise AnsibleFilterError(f"moduli_at_least: no modulus of {bits} bits or more would remain")
    return "\n".join(kept) + "\n"


class FilterModule:
    """sshd filters."""

    def filters(self):
        return {"moduli_at_least": moduli_at_least}
