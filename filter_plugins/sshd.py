"""Filters for OpenSSH server files. Pure functions; tests: tests/unit/test_sshd.py.

    {{ moduli_text | moduli_at_least(3072) }}                  -> the moduli file without short moduli
    {{ sshd_t_output | sshd_effective_differences(wanted_text) }} -> {setting: {wanted, effective}} that differ
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

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


# Settings sshd -T prints in seconds whatever unit the file used (30s, 2m, 1h).
TIME_SETTINGS = {"logingracetime", "clientaliveinterval"}
TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _seconds(value: str) -> str:
    """A sshd time value (e.g. 1m30s) in seconds, as sshd -T prints it; the value itself if not a time."""
    total, number = 0, ""
    for char in value.lower():
        if char.isdigit():
            number += char
        elif char in TIME_UNITS and number:
            total, number = total + int(number) * TIME_UNITS[char], ""
        else:
            return value
    return str(total + int(number or 0))


def sshd_settings(text: str) -> dict:
    """Global settings of an sshd configuration text, or of `sshd -T` output: {keyword: [values]}.

    Keywords are lower-cased (sshd's are case-insensitive); a keyword given on several lines
    (HostKey, and AllowGroups as sshd -T prints it) keeps every value, split on blanks; time
    values are in seconds. A Match block ends the global section.
    """
    if not isinstance(text, str):
        raise AnsibleFilterError(f"sshd_settings: expected configuration text, got {type(text).__name__}")
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        key = words[0].lower()
        if key == "match":
            break
        values = [word.lower() for word in words[1:]]
        if key in TIME_SETTINGS:
            values = [_seconds(value) for value in values]
        settings.setdefault(key, []).extend(values)
    return settings


def sshd_effective_differences(effective_text: str, wanted_text: str) -> dict:
    """The settings of wanted_text (the role's drop-in) that `sshd -T` output shows otherwise, as
    {"effective": {keyword: "values"}, "wanted": {keyword: "values"}}; both empty when sshd runs
    what the role sets."""
    effective, wanted = sshd_settings(effective_text), sshd_settings(wanted_text)
    if not effective:
        raise AnsibleFilterError("sshd_effective_differences: no settings in the sshd -T output")
    keys = [key for key, values in sorted(wanted.items()) if sorted(values) != sorted(effective.get(key, []))]
    return {"effective": {key: " ".join(effective.get(key, [])) for key in keys},
            "wanted": {key: " ".join(wanted[key]) for key in keys}}


class FilterModule:
    """sshd filters."""

    def filters(self):
        return {"moduli_at_least": moduli_at_least, "sshd_effective_differences": sshd_effective_differences}
