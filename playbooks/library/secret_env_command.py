#!/usr/bin/python
"""Ansible module: run a command with secrets in its environment, the secrets given as a no_log parameter."""

from __future__ import annotations

DOCUMENTATION = r"""
module: secret_env_command
short_description: Run a command whose program reads secrets from its environment
description:
  - Runs O(argv) (no shell) with O(secrets) added to the environment of that
    one process. Programs such as Kamal read their secrets from the environment.
  - Ansible's task keyword C(environment) would put the same values on the
    command line Ansible starts the module with, where C(ps), sudo's log and the
    log forwarding see them. Here they travel inside the module's arguments
    (on the connection's standard input with pipelining) and are declared
    C(no_log), so Ansible masks them in the result and in C(-vvv) output, and
    any secret the program prints is replaced with C(********).
  - Fails when the command exits non-zero, like M(ansible.builtin.command);
    use C(failed_when) to judge the result otherwise.
options:
  argv: {description: The command and its arguments., type: list, elements: str, required: true}
  chdir: {description: Directory to run it in., type: path}
  secrets: {description: "Environment variables holding secrets (name: value).", type: dict, default: {}}
author: Portfolio as a Service
"""

RETURN = r"""
rc: {description: Exit status., type: int, returned: always}
stdout: {description: Standard output, secrets masked., type: str, returned: always}
stderr: {description: Standard error, secrets masked., type: str, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "argv": {"type": "list", "elements": "str", "required": True},
            "chdir": {"type": "path"},
            "secrets": {"type": "dict", "default": {}, "no_log": True},
        },
        supports_check_mode=False,
    )
    secrets = {str(name): str(value) for name, value in module.params["secrets"].items()}
    rc, stdout, stderr = module.run_command(module.params["argv"], cwd=module.params["chdir"],
                                            environ_update=secrets)
    result = {"rc": rc, "stdout": stdout, "stderr": stderr, "cmd": module.params["argv"], "changed": True,
              "stdout_lines": stdout.splitlines(), "stderr_lines": stderr.splitlines()}
    if rc != 0:
        module.fail_json(msg=f"{module.params['argv'][0]} exited with {rc}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
