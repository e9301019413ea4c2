"""podaudit.api.view on hostile kubectl JSON: never a traceback, a problem line at most."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podaudit import userfiles
from podaudit.api import view as api
from podaudit.api.view import ApiNode, ApiPod, load_api_dir, load_list, parse_node, parse_pod

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def pod(**overrides: Any) -> dict[str, Any]:
    """A plain running pod; ``overrides`` replace whole top-level sections."""
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2024-05-01T09:00:00Z"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": True, "restartCount": 2, "state": {"running": {}}}]},
    }
    doc.update(overrides)
    return doc


def write_list(path: Path, items: list[Any]) -> Path:
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


@pytest.fixture
def alarm():
    """Fail (instead of hanging the suite) if the test body blocks for 5 seconds."""
    def expired(signum, frame):
        raise TimeoutError("load_list blocked")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(5)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# --- fields of the wrong type -------------------------------------------------------------

def test_containers_not_a_list():
    p = parse_pod(pod(spec={"nodeName": "node-1", "containers": 5}))
    assert p is not None and p.ready == "1/1"  # falls back to the status count


def test_container_statuses_not_a_list():
    p = parse_pod(pod(status={"phase": "Pending", "containerStatuses": 5}))
    assert p is not None and (p.ready, p.status, p.restarts) == ("0/1", "Pending", 0)


@pytest.mark.parametrize("bad", ["x", 1e999, float("nan"), True, None, [1], {"a": 1}, 10**5000, -(2**70)],
                         ids=["str", "inf", "nan", "bool", "null", "list", "dict", "5000-digits", "-2**70"])
def test_restart_count_junk_is_zero(bad):
    statuses = [{"ready": True, "restartCount": bad}, {"ready": False, "restartCount": 3}]
    p = parse_pod(pod(status={"phase": "Running", "containerStatuses": statuses}))
    assert p is not None and p.restarts == 3 and p.ready == "1/1"


def test_restart_count_whole_float_counts():
    p = parse_pod(pod(status={"containerStatuses": [{"restartCount": 4.0}]}))
    assert p is not None and p.restarts == 4


def test_owner_references_not_a_list():
    meta = {"name": "web", "ownerReferences": 5}
    p = parse_pod(pod(metadata=meta))
    assert p is not None and p.owner_node is None and p.namespace == "default"


def test_owner_references_items_of_the_wrong_shape():
    meta = {"name": "web", "ownerReferences": [5, "x", None, {"kind": "Node", "name": 7},
                                               {"kind": "Node", "name": "node-1"}]}
    p = parse_pod(pod(metadata=meta))
    assert p is not None and p.owner_node is None  # the first Node owner has no usable name


def test_node_addresses_not_a_list():
    n = parse_node({"metadata": {"name": "n1"}, "status": {"addresses": 5}})
    assert n == ApiNode("n1", {}, {})


def test_node_address_items_not_dicts():
    addresses = [5, "10.0.0.1", None, ["InternalIP"], {"type": "InternalIP", "address": "10.0.0.1"},
                 {"type": "Hostname"}, {"type": 5, "address": "x"}]
    n = parse_node({"metadata": {"name": "n1"}, "status": {"addresses": addresses}})
    assert n is not None and n.addresses == {"InternalIP": "10.0.0.1"}


def test_labels_and_annotations_not_dicts():
    n = parse_node({"metadata": {"name": "n1", "labels": 5}})
    assert n is not None and n.labels == {}
    p = parse_pod(pod(metadata={"name": "web", "labels": 5, "annotations": 5}))
    assert p is not None and p.is_mirror is False
    n = parse_node({"metadata": {"name": "n1", "labels": {"a": "b", "c": 5, "d": None}}})
    assert n is not None and n.labels == {"a": "b"}


@pytest.mark.parametrize("meta", [5, "web", None, [], ["name", "web"]])
def test_metadata_not_a_dict(meta):
    assert parse_pod(pod(metadata=meta)) is None
    assert parse_node({"metadata": meta}) is None


@pytest.mark.parametrize("item", [5, "pod", None, [], True])
def test_item_not_a_dict(item):
    assert parse_pod(item) is None
    assert parse_node(item) is None


def test_status_strings_of_the_wrong_type():
    p = parse_pod(pod(status={"phase": 5, "reason": ["x"], "containerStatuses": [
        {"state": {"waiting": {"reason": 5}, "terminated": "x"}}]}))
    assert p is not None and p.status == "Unknown"
    p = parse_pod(pod(metadata={"name": "web", "namespace": 5, "creationTimestamp": 5}, spec={"nodeName": 5}))
    assert p is not None and (p.namespace, p.node_name, p.created) == ("default", None, None)


# --- whole-file shape ---------------------------------------------------------------------

def test_items_not_a_list(tmp_path):
    path = tmp_path / "pods.json"
    path.write_text('{"kind": "List", "items": 5}')
    problems: list[str] = []
    assert load_list(str(path), problems) == []
    assert len(problems) == 1 and "'items'" in problems[0]


def test_items_that_are_not_objects_are_skipped(tmp_path):
    path = write_list(tmp_path / "pods.json", [5, None, "x", pod()])
    problems: list[str] = []
    assert [i["metadata"]["name"] for i in load_list(str(path), problems)] == ["web"]
    assert len(problems) == 1 and "3 of 4" in problems[0]


@pytest.mark.parametrize("text", ["[]", "5", "null", '"List"', "true"])
def test_top_level_not_an_object(tmp_path, text):
    (tmp_path / "pods.json").write_text(text)
    view = load_api_dir(str(tmp_path))
    assert view.pods == [] and len(view.problems) == 1 and "top level" in view.problems[0]


def test_junk_json(tmp_path):
    (tmp_path / "nodes.json").write_text('{"items": [')
    view = load_api_dir(str(tmp_path))
    assert view.nodes == [] and len(view.problems) == 1 and "nodes.json" in view.problems[0]


def test_a_number_too_long_for_int_only_loses_that_field(tmp_path):
    (tmp_path / "pods.json").write_text(
        '{"items": [{"metadata": {"name": "p"}, "status": {"containerStatuses": [{"restartCount": 1'
        + "0" * 5000 + "}]}}]}")
    view = load_api_dir(str(tmp_path))
    assert view.problems == [] and [(p.name, p.restarts) for p in view.pods] == [("p", 0)]


def test_deeply_nested_json(tmp_path):
    (tmp_path / "pods.json").write_text("[" * 100000)
    (tmp_path / "nodes.json").write_text('{"items": ' + "[" * 100000 + "]" * 100000 + "}")
    view = load_api_dir(str(tmp_path))
    assert view.pods == [] and view.nodes == []
    assert len(view.problems) == 2 and all("nested too deeply" in p for p in view.problems)


def test_not_utf8(tmp_path):
    (tmp_path / "pods.json").write_bytes(b'{"items": [{"metadata": {"name": "caf\xe9"}}]}')
    view = load_api_dir(str(tmp_path))
    assert view.pods == [] and len(view.problems) == 1 and "UTF-8" in view.problems[0]


def test_utf8_bom_is_fine(tmp_path):
    (tmp_path / "pods.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"items": [pod()]}).encode())
    view = load_api_dir(str(tmp_path))
    assert view.problems == [] and [p.name for p in view.pods] == ["web"]


# --- files that are not regular files ----------------------------------------------------

def test_missing_files_are_not_a_problem(tmp_path):
    view = load_api_dir(str(tmp_path))
    assert (view.nodes, view.pods, view.problems) == ([], [], [])


def test_fifo_does_not_hang(tmp_path, alarm):
    os.mkfifo(tmp_path / "pods.json")
    started = time.monotonic()
    view = load_api_dir(str(tmp_path))
    assert time.monotonic() - started < 2
    assert view.pods == [] and len(view.problems) == 1 and "not a regular file" in view.problems[0]


def test_fifo_swapped_in_after_the_stat_does_not_hang(tmp_path, monkeypatch, alarm):
    """Even if the stat said 'regular file', the open must not wait for a FIFO writer."""
    os.mkfifo(tmp_path / "pods.json")
    calls = []

    def fooled_once(mode: int) -> bool:
        calls.append(mode)
        return len(calls) == 1 or stat.S_ISREG(mode)

    monkeypatch.setattr(userfiles, "stat", SimpleNamespace(S_ISREG=fooled_once))
    problems: list[str] = []
    assert load_list(str(tmp_path / "pods.json"), problems) == []
    assert len(calls) == 2 and len(problems) == 1 and "not a regular file" in problems[0]


def test_symlink_to_dev_zero(tmp_path, alarm):
    os.symlink("/dev/zero", tmp_path / "pods.json")
    view = load_api_dir(str(tmp_path))
    assert view.pods == [] and len(view.problems) == 1 and "not a regular file" in view.problems[0]


def test_directory(tmp_path):
    (tmp_path / "nodes.json").mkdir()
    view = load_api_dir(str(tmp_path))
    assert view.nodes == [] and len(view.problems) == 1 and "not a regular file" in view.problems[0]


def test_symlink_loop_and_nul_in_path(tmp_path):
    os.symlink("pods.json", tmp_path / "nodes.json")
    os.symlink("nodes.json", tmp_path / "pods.json")
    view = load_api_dir(str(tmp_path))
    assert len(view.problems) == 2
    problems: list[str] = []
    assert load_list(str(tmp_path) + "/\0pods.json", problems) == [] and len(problems) == 1


def test_file_bigger_than_the_cap(tmp_path, monkeypatch):
    path = write_list(tmp_path / "pods.json", [pod()])
    size = path.stat().st_size
    monkeypatch.setattr(api, "MAX_BYTES", size)
    problems: list[str] = []
    assert len(load_list(str(path), problems)) == 1 and problems == []  # exactly at the cap is fine
    monkeypatch.setattr(api, "MAX_BYTES", size - 1)
    assert load_list(str(path), problems) == []
    assert len(problems) == 1 and "larger than" in problems[0]


def test_sparse_file_bigger_than_the_cap_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / "pods.json"
    with open(path, "wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    monkeypatch.setattr(api, "MAX_BYTES", 1024 * 1024)
    problems: list[str] = []
    assert load_list(str(path), problems) == [] and len(problems) == 1 and "larger than" in problems[0]


# --- ages ---------------------------------------------------------------------------------

def make_pod(created: str | None) -> ApiPod:
    return ApiPod("ns", "p", None, False, None, "0/0", "Running", 0, created)


def test_age_with_and_without_timezone():
    assert make_pod("2024-05-01T09:00:00Z").age(NOW) == "3h"
    assert make_pod("2024-05-01T09:00:00").age(NOW) == "3h"  # naive means UTC
    assert make_pod("2024-05-01T13:00:00+02:00").age(NOW) == "60m"
    assert make_pod("2024-05-01T09:00:00Z").age(NOW.replace(tzinfo=None)) == "3h"


@pytest.mark.parametrize("created", [None, "", "yesterday", "2024-13-45T00:00:00Z", "\ud800", "5"])
def test_age_of_nonsense_is_unknown(created):
    assert make_pod(created).age(NOW) == "<unknown>"


@pytest.mark.parametrize("created", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2024-05-01"])
def test_age_at_the_edges_of_the_calendar(created):
    assert isinstance(make_pod(created).age(NOW), str)


def test_age_default_now_is_aware():
    assert make_pod("2000-01-01T00:00:00").age().endswith("d")


# --- a realistic cluster ------------------------------------------------------------------

MIRROR_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "annotations": {
            "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": "10.0.0.11:6443",
            "kubernetes.io/config.hash": "6b2f4e3c1d0a9b8e7f6a5b4c3d2e1f00",
            "kubernetes.io/config.mirror": "6b2f4e3c1d0a9b8e7f6a5b4c3d2e1f00",
            "kubernetes.io/config.seen": "2024-05-01T08:59:58.123456789Z",
            "kubernetes.io/config.source": "file",
        },
        "creationTimestamp": "2024-05-01T09:00:00Z",
        "labels": {"component": "kube-apiserver", "tier": "control-plane"},
        "name": "kube-apiserver-cp-1",
        "namespace": "kube-system",
        "ownerReferences": [{
            "apiVersion": "v1", "controller": True, "kind": "Node", "name": "cp-1",
            "uid": "5d1c6a8e-2f0b-4c1e-9a7d-3b2e1f0c9d8a",
        }],
        "resourceVersion": "4242",
        "uid": "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b",
    },
    "spec": {
        "containers": [{"command": ["kube-apiserver", "--advertise-address=10.0.0.11"],
                        "image": "registry.k8s.io/kube-apiserver:v1.30.0", "name": "kube-apiserver"}],
        "hostNetwork": True,
        "nodeName": "cp-1",
        "priorityClassName": "system-node-critical",
    },
    "status": {
        "conditions": [{"status": "True", "type": "Ready"}],
        "containerStatuses": [{
            "containerID": "containerd://abc", "image": "registry.k8s.io/kube-apiserver:v1.30.0",
            "name": "kube-apiserver", "ready": True, "restartCount": 1, "started": True,
            "state": {"running": {"startedAt": "2024-05-01T09:00:01Z"}},
        }],
        "hostIP": "10.0.0.11",
        "phase": "Running",
        "podIP": "10.0.0.11",
        "qosClass": "Burstable",
        "startTime": "2024-05-01T09:00:00Z",
    },
}

CRASHING_POD = pod(status={
    "phase": "Running",
    "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 7,
         "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
         "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting"}}},
        {"name": "sidecar", "ready": True, "restartCount": 0, "state": {"running": {}}},
    ],
}, spec={"nodeName": "node-1", "containers": [{"name": "app"}, {"name": "sidecar"}]})

NODE = {
    "kind": "Node",
    "metadata": {"name": "cp-1", "labels": {"kubernetes.io/hostname": "cp-1",
                                            "node-role.kubernetes.io/control-plane": ""}},
    "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.11"},
                             {"type": "Hostname", "address": "cp-1"}]},
}


def test_realistic_mirror_pod_and_crash_loop(tmp_path):
    write_list(tmp_path / "pods.json", [MIRROR_POD, CRASHING_POD])
    write_list(tmp_path / "nodes.json", [NODE])
    view = load_api_dir(str(tmp_path))
    assert view.problems == []
    mirror, crashing = view.pods
    assert mirror == ApiPod("kube-system", "kube-apiserver-cp-1", "cp-1", True, "cp-1", "1/1", "Running", 1,
                            "2024-05-01T09:00:00Z", "5d1c6a8e-2f0b-4c1e-9a7d-3b2e1f0c9d8a", "file", "10.0.0.11",
                            "Running", "6b2f4e3c1d0a9b8e7f6a5b4c3d2e1f00")  # config.mirror: the static pod's hash
    assert mirror.age(NOW) == "3h"
    assert (crashing.is_mirror, crashing.owner_node, crashing.ready) == (False, None, "1/2")
    assert (crashing.status, crashing.restarts) == ("CrashLoopBackOff", 7)
    assert view.nodes == [ApiNode("cp-1", {"InternalIP": "10.0.0.11", "Hostname": "cp-1"},
                                  NODE["metadata"]["labels"])]  # no uid, version or Ready: defaults
    assert view.loaded == {"pods", "nodes"}  # no namespaces.json: namespaces unknown, not empty
    assert view.pods_named("kube-apiserver-cp-1", "kube-system") == [mirror]
    assert view.pods_named("kube-apiserver-cp-1", None) == [mirror]
    assert view.pods_named("kube-apiserver-cp-1", "default") == []


def test_terminating_and_terminated_reasons():
    meta = {"name": "web", "deletionTimestamp": "2024-05-01T11:59:00Z"}
    p = parse_pod(pod(metadata=meta, status=CRASHING_POD["status"]))
    assert p is not None and p.status == "Terminating"
    p = parse_pod(pod(status={"phase": "Failed", "containerStatuses": [
        {"state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}))
    assert p is not None and p.status == "OOMKilled"
    p = parse_pod(pod(status={"phase": "Failed", "reason": "Evicted"}))
    assert p is not None and p.status == "Evicted"


# --- properties ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | json_values


def some_keys(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A dict with any subset of the real keys (each value real-ish or arbitrary), or junk."""
    return maybe(st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in fields.items()}))


names = st.sampled_from(["web", "cp-1", "kube-system", ""]) | st.text(max_size=5)
timestamps = st.sampled_from(["2024-05-01T09:00:00Z", "2024-05-01T09:00:00", "2024-05-01", "0001-01-01T00:00:00+23:59",
                              "9999-12-31T23:59:59-23:59"]) | st.text(max_size=30)
container_statuses = st.lists(some_keys(
    ready=st.booleans(), restartCount=st.integers() | st.floats(),
    state=some_keys(waiting=some_keys(reason=names), terminated=some_keys(reason=names), running=json_values),
), max_size=3)
real_items = st.fixed_dictionaries({}, optional={
    "metadata": some_keys(
        name=names, namespace=names, creationTimestamp=timestamps, deletionTimestamp=timestamps,
        labels=st.dictionaries(st.text(max_size=5), maybe(names), max_size=3),
        annotations=st.dictionaries(st.sampled_from([api.MIRROR_ANNOTATION, "x"]), maybe(names), max_size=2),
        ownerReferences=st.lists(some_keys(kind=st.sampled_from(["Node", "ReplicaSet"]), name=names), max_size=3),
    ),
    "spec": some_keys(nodeName=names, containers=st.lists(json_values, max_size=3)),
    "status": some_keys(
        phase=names, reason=names, containerStatuses=container_statuses,
        addresses=st.lists(some_keys(type=names, address=names), max_size=3),
    ),
})


def check(value: Any) -> None:
    p = parse_pod(value)
    if p is not None:
        assert isinstance(p.name, str) and isinstance(p.namespace, str) and p.namespace
        assert isinstance(p.status, str) and p.status and isinstance(p.restarts, int)
        assert p.ready.count("/") == 1 and all(part.isdigit() for part in p.ready.split("/"))
        assert p.node_name is None or isinstance(p.node_name, str)
        assert p.owner_node is None or isinstance(p.owner_node, str)
        assert isinstance(p.age(NOW), str) and isinstance(p.age(), str)
        str(p.restarts)  # printable (no 4300-digit ints)
    n = parse_node(value)
    if n is not None:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in n.addresses.items())
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in n.labels.items())


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_parsers_never_raise_on_arbitrary_json(value):
    check(value)


@settings(max_examples=500, deadline=None)
@given(real_items)
def test_parsers_never_raise_on_real_keys_with_arbitrary_values(value):
    check(value)


@settings(max_examples=100, deadline=None)
@given(st.lists(real_items | json_values, max_size=4) | json_values)
def test_load_api_dir_never_raises(tmp_path_factory, value):
    directory = tmp_path_factory.mktemp("api")
    (directory / "pods.json").write_text(json.dumps({"items": value}))
    (directory / "nodes.json").write_text(json.dumps(value))
    view = load_api_dir(str(directory))
    assert len(view.problems) <= 2
    assert all(isinstance(p, ApiPod) and isinstance(p.age(NOW), str) for p in view.pods)
    assert all(isinstance(n, ApiNode) for n in view.nodes)


def test_dual_stack_node_keeps_the_first_address_of_each_type():
    node = parse_node({"metadata": {"name": "n1"}, "status": {"addresses": [
        {"type": "InternalIP", "address": "10.0.0.7"}, {"type": "InternalIP", "address": "fd00::7"},
        {"type": "Hostname", "address": "n1"}], "nodeInfo": {"machineID": "abc", "kubeletVersion": "v1.33.1"}}})
    assert node is not None and node.addresses == {"InternalIP": "10.0.0.7", "Hostname": "n1"}
    assert (node.machine_id, node.kubelet_version, node.ready) == ("abc", "v1.33.1", "Unknown")


def test_configz_files_are_named_only_by_valid_node_names(tmp_path):
    (tmp_path / "configz").mkdir()
    (tmp_path / "secret.json").write_text('{"kubeletconfig": {"staticPodPath": "/leaked"}}')
    (tmp_path / "configz" / "ok.json").write_text('{"kubeletconfig": {"staticPodPath": "/m"}}')
    write_list(tmp_path / "nodes.json", [{"metadata": {"name": "../secret"}}, {"metadata": {"name": "ok"}}])
    view = load_api_dir(str(tmp_path))
    assert view.configz == {"ok": {"staticPodPath": "/m"}}
