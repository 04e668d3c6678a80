"""The controller-side caches: what a worker process forked after them finds already loaded.

callback_plugins/jinja_plugin_cache.py loads the Jinja filters and tests at the start of each
play; strategy_plugins/mitogen_linear.py lists the collection directories once per run. Both
only help if a process forked afterwards (Ansible's worker) inherits the result.
"""

import os
import re
import sys
from pathlib import Path

import pytest
from ansible.plugins.loader import filter_loader, init_plugin_loader, test_loader
from paas_testlib import load_script

ROOT = Path(__file__).resolve().parents[2]


def in_a_fork(check) -> bool:
    """Run check() in a forked child, as Ansible runs a task; True when it returned true there."""
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only when the check holds
        try:
            os._exit(0 if check() else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


@pytest.fixture(scope="module")
def loaders():
    init_plugin_loader()
    filter_loader.add_directory(str(ROOT / "filter_plugins"))
    return filter_loader, test_loader


def test_a_worker_forked_after_play_start_finds_the_projects_and_ansibles_filters_loaded(loaders):
    filters, tests = loaders
    for loader in loaders:  # as at the start of a run (another test may have used a filter)
        loader._cached_non_collection_wrappers.clear()

    def loaded() -> bool:
        return ("invalid_cidrs" in filters._cached_non_collection_wrappers      # the project's
                and "ansible.builtin.to_json" in filters._cached_non_collection_wrappers
                and "ansible.builtin.version" in tests._cached_non_collection_wrappers)
    assert not in_a_fork(loaded)
    load_script("callback_plugins/jinja_plugin_cache.py").CallbackModule().v2_playbook_on_play_start(None)
    assert in_a_fork(loaded)


def test_collection_directories_are_listed_once_and_calls_with_arguments_pass_through(monkeypatch):
    init_plugin_loader()
    module = load_script("strategy_plugins/mitogen_linear.py")
    calls = []

    def counted(*args, **kwargs):
        calls.append((args, kwargs))
        return iter([b"/collections/ansible_collections/one/two"])
    monkeypatch.setattr(module, "_list_collection_dirs", counted)
    monkeypatch.setattr(module, "_collection_dirs", [])

    assert list(module._listed_once()) == [b"/collections/ansible_collections/one/two"]
    assert in_a_fork(lambda: list(module._listed_once()) == [b"/collections/ansible_collections/one/two"])
    assert list(module._listed_once()) == [b"/collections/ansible_collections/one/two"]
    assert len(calls) == 1  # the first call only, not the fork's nor the third
    module._listed_once(coll_filter="one.two")
    assert calls[-1] == ((), {"coll_filter": "one.two"})


def test_no_process_is_pinned_to_a_cpu():
    import ansible_mitogen.affinity as affinity
    load_script("strategy_plugins/mitogen_linear.py")
    cpus = os.sched_getaffinity(0)

    def unpinned(policy) -> bool:
        policy.assign_worker()      # as each task's worker process does
        policy.assign_subprocess()  # as an SSH child does
        return os.sched_getaffinity(0) == cpus
    assert in_a_fork(lambda: unpinned(affinity.policy))
    if len(cpus) >= 2 and hasattr(affinity, "LinuxPolicy"):  # Mitogen's own policy pins a worker to one CPU
        assert not in_a_fork(lambda: unpinned(affinity.LinuxPolicy(cpu_count=len(cpus))))


FQCN_FILTER = re.compile(r"\|\s*([a-z_0-9]+\.[a-z_0-9]+\.[a-z_0-9]+)\b")


def test_every_collection_filter_the_roles_and_playbooks_name_is_loaded_at_play_start():
    named = set()
    for path in [*ROOT.glob("roles/**/*"), *ROOT.glob("playbooks/**/*")]:
        if path.suffix in (".yml", ".j2") and path.is_file():
            named.update(FQCN_FILTER.findall(path.read_text()))
    named -= {name for name in named if name.startswith(("ansible.builtin.", "ansible.legacy."))}
    assert "community.crypto.x509_certificate_info" in named  # the scan finds them
    module = load_script("callback_plugins/jinja_plugin_cache.py")
    missing = sorted(named - set(module.COLLECTION_FILTERS))
    assert not missing, f"add to COLLECTION_FILTERS: {missing}"


def test_a_worker_forked_after_play_start_finds_the_collection_filters_imported(loaders):
    filters, _ = loaders
    module_name = "ansible_collections.community.crypto.plugins.filter.x509_certificate_info"

    def start_a_play_then_fork() -> bool:
        # In a child of its own, as at the start of a run: no collection filter imported yet
        # (another test may have started a play in this process).
        for name in [name for name in sys.modules if name.startswith("ansible_collections.")]:
            del sys.modules[name]
        filters._module_cache.clear()
        if in_a_fork(lambda: module_name in sys.modules):
            return False
        load_script("callback_plugins/jinja_plugin_cache.py").CallbackModule().v2_playbook_on_play_start(None)
        return in_a_fork(lambda: module_name in sys.modules)
    assert in_a_fork(start_a_play_then_fork)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
