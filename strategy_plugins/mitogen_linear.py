"""The `mitogen_linear` strategy: Ansible's linear strategy run over Mitogen.

Mitogen (pinned in requirements.txt) keeps one Python interpreter per host and
become user for the whole run and sends modules to it over that channel, instead
of one SSH command, one `sudo` and one fresh interpreter per task. Measured on the
sandbox in benchmarks/ansible_cfg.py (results in docs/benchmarks.md).

This file exposes Mitogen's strategy from the installed package, so ansible.cfg
and Molecule's config name this directory instead of a path inside the
virtualenv. Switch back to Ansible's own strategy for one run with
`ANSIBLE_STRATEGY=linear` (see docs/development.md).

One addition: before each collection module it sends (community.crypto's,
ansible.posix's), Mitogen's planner lists the directory of every installed
collection (`ansible_mitogen.planner._load_collections`), in the worker process
forked for that task and host, so nothing is remembered between tasks: about
0.9 s of the controller's CPU each time with the hundred collections of the
`ansible` package. Collections are not installed during a run, so the list is
made once, in the controller process, and the workers inherit it
(`benchmarks/ansible_cfg.py --caches`, results in docs/benchmarks.md).

And one removal: Mitogen pins its processes to CPUs. On a machine with two or three
CPUs its policy reserves CPU 0 for the connection multiplexer and pins the
controller, every task's worker process and their SSH children to the rest, which
on two CPUs is CPU 1 alone: the controller's Python work (templating, the
workers) shared one core while the other held the multiplexer and sat partly idle.
Ansible's own strategies pin nothing; neither does this one, so the kernel places
the processes (`benchmarks/ansible_cfg.py --affinity`, results in docs/benchmarks.md).
"""

import ansible.collections.list as collection_list
import ansible_mitogen.affinity
from ansible_mitogen import loaders, strategy

DOCUMENTATION = """
name: mitogen_linear
short_description: Ansible's linear strategy over Mitogen connections
description:
  - Ansible's linear strategy with Mitogen's connection multiplexer (ssh, docker, local, sudo).
  - The installed collections' directories are listed once per run instead of once per collection module.
  - No process is pinned to a CPU (Mitogen's CPU affinity policy is replaced by its no-op base policy).
"""

# Mitogen's processes read this module attribute when they start (the controller and the
# multiplexer once per run, each worker per task); the base class's methods do nothing.
ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()

_list_collection_dirs = collection_list.list_collection_dirs
_collection_dirs: list = []


def _listed_once(*args, **kwargs):
    """list_collection_dirs() as at the start of the run; any call with arguments is passed through."""
    if args or kwargs:
        return _list_collection_dirs(*args, **kwargs)
    if not _collection_dirs:
        _collection_dirs.extend(_list_collection_dirs())
    return iter(_collection_dirs)


class StrategyModule(strategy.StrategyMixin, loaders.strategy_loader.get("linear", class_only=True)):
    """Linear strategy with Mitogen's connection handling."""

    def run(self, iterator, play_context):
        # Listed here, in the controller process, before this play's workers are forked.
        collection_list.list_collection_dirs = _listed_once
        _listed_once()
        return super().run(iterator, play_context)
