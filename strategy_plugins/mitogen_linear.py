"""The `mitogen_linear` strategy: Ansible's linear strategy run over Mitogen.

Mitogen (pinned in requirements.txt) keeps one Python interpreter per host and
become user for the whole run and sends modules to it over that channel, instead
of one SSH command, one `sudo` and one fresh interpreter per task. Measured on the
sandbox in benchmarks/ansible_cfg.py (results in docs/benchmarks.md).

This file only exposes Mitogen's strategy from the installed package, so
ansible.cfg and Molecule's config name this directory instead of a path inside
the virtualenv. Switch back to Ansible's own strategy for one run with
`ANSIBLE_STRATEGY=linear` (see docs/development.md).
"""

from ansible_mitogen import loaders, strategy

DOCUMENTATION = """
name: mitogen_linear
short_description: Ansible's linear strategy over Mitogen connections
description:
  - Ansible's linear strategy with Mitogen's connection multiplexer (ssh, docker, local, sudo).
"""


class StrategyModule(strategy.StrategyMixin, loaders.strategy_loader.get("linear", class_only=True)):
    """Linear strategy with Mitogen's connection handling."""
