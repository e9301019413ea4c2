"""crictl's JSON (cri-tools cmd/crictl) into the runtime witness: podaudit/kubelet/crictl.py.

The shapes are crictl's own (research-witnesses §3.5: ``pods -o json``, ``ps -a -o json``,
``inspect``), printed as protojson prints them: two-space indent, int64 as strings, a random
second space after some colons (protojson makes its whitespace unstable on purpose).
The builders here are shared with tests/test_witness_node.py.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podaudit.kubelet.crictl import (
    MAX_LOG_LINE,
    MAX_SANDBOXES,
    CriAnswer,
    CrictlError,
    log_tail,
    parse_containers,
    parse_sandboxes,
    runtime_word,
    to_inspect,
)
from podaudit.model import WitnessStatus

NODE = "cp1"
APISERVER_UID = "3a5d4c1e6f7b8a9c0d1e2f3a4b5c6d7e"
SANDBOX = "9b1e0c5d2f3a4b6c8d7e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4"
CRASHED = "5f0c3a9e1d2b4c6a8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f"
OLDER = "0d4e" + "1" * 60
ENDPOINT = "unix:///run/containerd/containerd.sock"
LAST_LINE = 'E0601 15:02:11.987654       1 run.go:74] "command failed" err="unknown flag: --insecure-port"'


def protojson(doc: Any, seed: int = 0) -> bytes:
    """``doc`` as crictl prints it: indented by two, one key a line, and (as protojson does, to
    keep parsers honest) now and then two spaces after a key's colon."""
    rng = random.Random(seed)
    key = re.compile(r'^(\s*"(?:[^"\\]|\\.)*":) ')
    lines = [key.sub(lambda m: m.group(1) + (" " if rng.random() < 0.3 else "") + " ", line)
             for line in json.dumps(doc, indent=2).splitlines()]
    return ("\n".join(lines) + "\n").encode()


def sandbox(name: str, uid: str, sandbox_id: str, *, namespace: str = "kube-system", source: str = "file",
            state: str = "SANDBOX_READY", created: int = 1717252400123456789,
            labels: dict[str, str] | None = None, node: str = NODE) -> dict[str, Any]:
    """One ``crictl pods -o json`` item (PodSandbox), as containerd and the kubelet fill it."""
    return {
        "id": sandbox_id,
        "metadata": {"name": f"{name}-{node}", "uid": uid, "namespace": namespace, "attempt": 0},
        "state": state,
        "createdAt": str(created),
        "labels": {**(labels or {"component": name, "tier": "control-plane"}),
                   "io.kubernetes.pod.name": f"{name}-{node}", "io.kubernetes.pod.namespace": namespace,
                   "io.kubernetes.pod.uid": uid},
        "annotations": {"kubernetes.io/config.hash": uid, "kubernetes.io/config.seen": "2024-06-01T14:33:20.123456789Z",
                        "kubernetes.io/config.source": source},
        "runtimeHandler": "",
    }


def container(name: str, container_id: str, sandbox_id: str, uid: str, *, attempt: int,
              state: str = "CONTAINER_EXITED", created: int = 1717254131456789012, pod: str = "",
              node: str = NODE) -> dict[str, Any]:
    """One ``crictl ps -a -o json`` item (Container), as crictl >= 1.31 prints it."""
    return {
        "id": container_id,
        "podSandboxId": sandbox_id,
        "metadata": {"name": name, "attempt": attempt},
        "image": {"image": "sha256:56ce0fd9fb532bcb552ddbdbe3064189ce823a71693d97ff7a0a7a4ff6bffbbe",
                  "annotations": {}, "userSpecifiedImage": f"registry.k8s.io/{name}:v1.30.2", "runtimeHandler": ""},
        "imageRef": "sha256:56ce0fd9fb532bcb552ddbdbe3064189ce823a71693d97ff7a0a7a4ff6bffbbe",
        "state": state,
        "createdAt": str(created),
        "labels": {"io.kubernetes.container.name": name, "io.kubernetes.pod.name": pod or f"{name}-{node}",
                   "io.kubernetes.pod.namespace": "kube-system", "io.kubernetes.pod.uid": uid},
        "annotations": {"io.kubernetes.container.hash": "b2b6d1f3",
                        "io.kubernetes.container.restartCount": str(attempt),
                        "io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
                        "io.kubernetes.container.terminationMessagePolicy": "File",
                        "io.kubernetes.pod.terminationGracePeriod": "30"},
    }


def inspected(container_id: str, name: str, attempt: int, exit_code: int, reason: str = "Error") -> dict[str, Any]:
    """``crictl inspect ID`` (marshalContainerStatus), its ``info`` trimmed."""
    return {
        "info": {"sandboxID": SANDBOX, "pid": 0, "removing": False, "snapshotter": "overlayfs",
                 "runtimeType": "io.containerd.runc.v2", "config": {}, "runtimeSpec": {}},
        "status": {
            "id": container_id, "metadata": {"attempt": attempt, "name": name}, "state": "CONTAINER_EXITED",
            "createdAt": "2024-06-01T15:02:11.456789012Z", "startedAt": "2024-06-01T15:02:11.512345678Z",
            "finishedAt": "2024-06-01T15:02:11.987654321Z", "exitCode": exit_code,
            "image": {"annotations": {}, "image": f"registry.k8s.io/{name}:v1.30.2", "runtimeHandler": "",
                      "userSpecifiedImage": ""},
            "imageRef": "registry.k8s.io/kube-apiserver@sha256:340ab4a1d66a60630a7a298aa0b2576fcd82e51ecdddb7",
            "reason": reason, "message": "", "labels": {}, "annotations": {}, "mounts": [],
            "logPath": f"/var/log/pods/x/{name}/{attempt}.log", "resources": None, "imageId": "sha256:56ce",
            "user": None, "stopSignal": "SIGTERM",
        },
    }


def broken_control_plane(node: str = NODE) -> tuple[bytes, bytes, dict[str, bytes], dict[str, bytes]]:
    """A control plane whose kube-apiserver exited 1 at its 14th restart (the older attempt
    13 still listed), beside a running etcd and an API pod's exited container:
    (pods.json, ps.json, {ID: inspect JSON}, {ID: log})."""
    etcd_uid, etcd_sandbox = "e" * 32, "ab" * 32
    api_uid, api_sandbox = "12345678-aaaa-bbbb-cccc-1234567890ab", "cd" * 32
    pods = {"items": [
        sandbox("kube-apiserver", APISERVER_UID, SANDBOX, node=node),
        sandbox("etcd", etcd_uid, etcd_sandbox, created=1717252300000000000, node=node),
        sandbox("coredns-5d78c9869d-abcde", api_uid, api_sandbox, source="api", created=1717252500000000000,
                labels={"k8s-app": "kube-dns"}),
    ]}
    ps = {"containers": [
        container("coredns", "ef" * 32, api_sandbox, api_uid, attempt=3, created=1717254200000000000,
                  pod="coredns-5d78c9869d-abcde"),
        container("kube-apiserver", CRASHED, SANDBOX, APISERVER_UID, attempt=14, node=node),
        container("etcd", "aa" * 32, etcd_sandbox, etcd_uid, attempt=0, state="CONTAINER_RUNNING",
                  created=1717253000000000000, node=node),
        container("kube-apiserver", OLDER, SANDBOX, APISERVER_UID, attempt=13, created=1717253830111111111,
                  node=node),
    ]}
    inspect = {CRASHED: protojson(inspected(CRASHED, "kube-apiserver", 14, 1), seed=3)}
    logs = {CRASHED: ("I0601 15:02:11.600000       1 options.go:221] external host was not specified\n"
                      f"{LAST_LINE}\n").encode()}
    return protojson(pods, seed=1), protojson(ps, seed=2), inspect, logs


def answers(pods: bytes, ps: bytes, inspect: dict[str, bytes], logs: dict[str, bytes]) -> list[CriAnswer]:
    """What the gather script records for them."""
    found = [CriAnswer("pods", 0, ENDPOINT, pods), CriAnswer("ps", 0, ENDPOINT, ps)]
    for container_id, status in inspect.items():
        found += [CriAnswer("inspect", 0, container_id, status),
                  CriAnswer("logs", 0, container_id, logs.get(container_id, b""))]
    return found


# --- parsing ---------------------------------------------------------------------------------


def test_a_crash_looping_static_pod_is_its_sandbox_with_the_exit_code_restarts_and_last_log_line():
    """The newest attempt (14) of kube-apiserver is the one reported, with inspect's exit code
    and reason (ListContainers has neither) and the log's last line."""
    word = runtime_word(answers(*broken_control_plane()))
    assert word.witness.status is WitnessStatus.HEARD and word.witness.via == f"crictl {ENDPOINT}"
    assert word.sandboxes is not None
    by_name = {p.name: p for p in word.sandboxes}
    api = by_name["kube-apiserver-cp1"]
    assert (api.namespace, api.uid, api.source, api.ready) == ("kube-system", APISERVER_UID, "file", True)
    (run,) = api.containers
    assert (run.name, run.state, run.exit_code, run.reason) == ("kube-apiserver", "exited", 1, "Error")
    assert run.restarts == 14
    assert run.log_tail[-1] == LAST_LINE
    (etcd,) = by_name["etcd-cp1"].containers
    assert (etcd.state, etcd.exit_code, etcd.restarts) == ("running", None, 0)
    assert by_name["coredns-5d78c9869d-abcde-cp1"].source == "api"
    assert [p.name for p in word.sandboxes] == sorted(p.name for p in word.sandboxes)


def test_only_the_newest_non_running_container_of_a_static_sandbox_is_inspected():
    """As witnesses.sh chooses: not the running etcd, not the older attempt 13, not the API pod's."""
    pods, ps, _, _ = broken_control_plane()
    assert to_inspect(parse_sandboxes(pods), parse_containers(ps), 8) == [CRASHED]
    assert to_inspect(parse_sandboxes(pods), parse_containers(ps), 0) == []


def test_older_crictl_shapes_are_read_the_same():
    """jsonpb (crictl < 1.31): no userSpecifiedImage, null for unset messages and empty
    lists; createdAt as a number; attempt only in the restartCount annotation."""
    pods, _, inspect, logs = broken_control_plane()
    old = container("kube-apiserver", CRASHED, SANDBOX, APISERVER_UID, attempt=14)
    old["image"] = {"image": "sha256:56ce", "annotations": None}
    old["createdAt"] = 1717254131456789012
    del old["metadata"]["attempt"]
    word = runtime_word(answers(pods, json.dumps({"containers": [old]}).encode(), inspect, logs))
    api = next(p for p in word.sandboxes or () if p.uid == APISERVER_UID)
    assert api.containers[0].restarts == 14 and api.containers[0].exit_code == 1
    empty = runtime_word([CriAnswer("pods", 0, ENDPOINT, b'{"items": null}'),
                          CriAnswer("ps", 0, ENDPOINT, b'{"containers": null}')])
    assert empty.witness.status is WitnessStatus.HEARD and empty.sandboxes == ()


def test_containers_join_their_sandbox_by_the_pod_uid_label_without_a_sandbox_id():
    pods, _, _, _ = broken_control_plane()
    orphan = container("kube-apiserver", CRASHED, "", APISERVER_UID, attempt=14)
    word = runtime_word([CriAnswer("pods", 0, ENDPOINT, pods),
                         CriAnswer("ps", 0, ENDPOINT, json.dumps({"containers": [orphan]}).encode())])
    api = next(p for p in word.sandboxes or () if p.uid == APISERVER_UID)
    assert [c.restarts for c in api.containers] == [14]


def test_a_runtime_that_is_down_is_a_failed_witness_saying_so():
    """crictl's own line (main.go: logrus.Fatal, exit 1) when the socket does not answer."""
    err = (b'time="2024-06-01T15:03:00Z" level=fatal msg="validate service connection: validate CRI v1 runtime API '
           b'for endpoint \\"unix:///run/containerd/containerd.sock\\": rpc error: code = Unavailable desc = '
           b'connection error: desc = \\"transport: Error while dialing: dial unix /run/containerd/containerd.sock: '
           b'connect: no such file or directory\\""\n')
    word = runtime_word([CriAnswer("pods", 1, ENDPOINT, b"", err)])
    assert word.witness.status is WitnessStatus.FAILED and word.sandboxes is None
    assert word.witness.detail == ("the runtime does not answer at unix:///run/containerd/containerd.sock "
                                   "(connect: no such file or directory): it is down")
    assert "\n" not in word.witness.detail


@pytest.mark.parametrize(("answer", "words"), [
    (CriAnswer("pods", 124, ENDPOINT, b""), "did not answer in time"),
    (CriAnswer("pods", 0, ENDPOINT, b"<html>not json"), "printed no JSON"),
    (CriAnswer("pods", 0, ENDPOINT, b'{"containers": []}'), "without a 'items' list"),
    (CriAnswer("pods", 1, ENDPOINT, b"", b'level=fatal msg="open /run/x.sock: permission denied"'), "run as root"),
])
def test_junk_and_timeouts_are_one_line_never_a_traceback(answer, words):
    word = runtime_word([answer])
    assert words in word.witness.detail and word.sandboxes is None
    assert word.witness.status in (WitnessStatus.FAILED, WitnessStatus.REFUSED)


def test_no_crictl_is_an_absent_witness_with_the_scripts_reason():
    word = runtime_word([], "no crictl on the node (PATH, /var/lib/rancher/rke2/bin)")
    assert word.witness.status is WitnessStatus.ABSENT and "no crictl" in word.witness.detail


def test_an_answer_at_the_cap_was_cut_and_is_not_read():
    pods, _, _, _ = broken_control_plane()
    word = runtime_word([CriAnswer("pods", 0, ENDPOINT, pods)], cap=len(pods))
    assert word.witness.status is WitnessStatus.FAILED and "bytes or more" in word.witness.detail


def test_ps_failing_keeps_the_sandboxes_and_says_why():
    pods, _, _, _ = broken_control_plane()
    word = runtime_word([CriAnswer("pods", 0, ENDPOINT, pods), CriAnswer("ps", 0, ENDPOINT, b"junk")])
    assert word.witness.status is WitnessStatus.HEARD and "no containers" in word.witness.detail
    assert word.sandboxes is not None and all(p.containers == () for p in word.sandboxes)


def test_huge_answers_are_bounded():
    items = [sandbox("p", f"{i:032x}", f"{i:064x}") for i in range(MAX_SANDBOXES + 50)]
    assert len(parse_sandboxes(json.dumps({"items": items}).encode())) == MAX_SANDBOXES
    lines = b"".join(b"x" * 5000 + b"\n" for _ in range(40))
    tail = log_tail(lines + b"\r\nlast\r\n")
    assert len(tail) == 5 and tail[-1] == "last" and all(len(line) <= MAX_LOG_LINE for line in tail)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=30))
def test_any_json_shape_gives_a_witness_never_an_exception(doc):
    data = json.dumps({"items": doc, "containers": doc}).encode()
    for raw in (data, json.dumps(doc).encode()):
        word = runtime_word([CriAnswer("pods", 0, ENDPOINT, raw), CriAnswer("ps", 0, ENDPOINT, raw),
                             CriAnswer("inspect", 0, "a" * 64, raw), CriAnswer("logs", 0, "a" * 64, raw)])
        assert word.witness.status in (WitnessStatus.HEARD, WitnessStatus.FAILED)


def test_decoding_errors_are_crictl_errors():
    with pytest.raises(CrictlError):
        parse_containers(b"[" * 100000)


def test_a_stopped_static_container_left_uninspected_is_said():
    """When the script could not choose (another JSON layout) or inspect failed, the exit code
    is unknown, and the witness says so rather than leaving it blank."""
    pods, ps, _, _ = broken_control_plane()
    word = runtime_word([CriAnswer("pods", 0, ENDPOINT, pods), CriAnswer("ps", 0, ENDPOINT, ps)])
    assert "1 stopped static pod container(s) not inspected" in word.witness.detail
    api = next(p for p in word.sandboxes or () if p.uid == APISERVER_UID)
    assert api.containers[0].exit_code is None and api.containers[0].restarts == 14
