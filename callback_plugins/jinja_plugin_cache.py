"""Load the Jinja filters and tests once, in the controller process, before a play's tasks run.

ansible-core runs each task on each host in a worker process forked from the
controller process. The first filter or test a worker meets makes it read every
filter (or test) plugin file on the legacy search path: ansible-core's own and
this project's `filter_plugins/`. Done in every worker, that is about 0.3 s of
the controller's CPU for each task and host whose arguments or conditions use a
filter or test (nearly all): a quarter of a no-op run of site.yml on the
sandbox. Done once here, in the process the workers are forked from, every
worker inherits the loaded plugins.

The collections' filters the project names by their full name are loaded here
too. ansible-core finds a collection's filter by importing the collection's
filter files in name order until one defines it: for
community.crypto.x509_certificate_info (the internal CA's renewal window),
every community.crypto filter before it, with the cryptography library: 0.3 s
of the worker's CPU (0.2 s for community.general's) for each task and host
that uses one, 0.003 s once loaded here. `COLLECTION_FILTERS` lists
them; tests/unit/test_controller_caches.py fails when a role or playbook names
a collection filter that is not on the list.

Nothing else changes: the same plugins, found the same way. Measured in
`benchmarks/ansible_cfg.py --caches` (results in docs/benchmarks.md).
"""

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import filter_loader, test_loader

DOCUMENTATION = """
name: jinja_plugin_cache
type: aggregate
short_description: Loads the Jinja filters and tests once per play, before its workers fork
description:
  - At the start of each play, fills ansible-core's filter and test plugin caches in the
    controller process, with the collection filters in COLLECTION_FILTERS, so that the
    worker processes forked for each task and host inherit them instead of reading every
    plugin file again.
  - Active wherever its directory is configured (C(callback_plugins) in ansible.cfg and in
    Molecule's config); it prints nothing.
"""


# The collection filters that roles and playbooks name (tests/unit/test_controller_caches.py).
COLLECTION_FILTERS = (
    "community.crypto.x509_certificate_info",
    "community.general.dict",
    "community.general.json_query",
)


class CallbackModule(CallbackBase):
    """Fills the filter and test loaders' caches in the controller process."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "jinja_plugin_cache"
    CALLBACK_NEEDS_ENABLED = False

    def v2_playbook_on_play_start(self, play):
        # all() fills the loader's cache on its first call and reads the cache afterwards.
        for loader in (filter_loader, test_loader):
            for _plugin in loader.all():
                pass
        # A collection's filter files stay imported (sys.modules) once one is found.
        for name in COLLECTION_FILTERS:
            filter_loader.get(name)
