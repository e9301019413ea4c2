"""--via kubectl-debug: a real kubectl against the stub API, whose "kubelet" runs each debug
pod's container for real on a greenbox lab node (tests/debug_kubelet.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podaudit.collect.over_kubectl_debug import DebugNode
from podaudit.collect.passes import collect_view
from podaudit.errors import NodeUnavailable
from podaudit.model import FailureKind
from podaudit.transport import debug
from podaudit.transport.debug import DebugOptions
from podaudit.transport.debug_pods import cleanup_debug_pods
from podaudit.transport.kubectl import KubectlOptions
from tests import stub_api
from tests.debug_kubelet import LabKubelet
from tests.lab_helpers import running_lab
from tests.stub_api import StubApi, hanging_kubelet

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def greenbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """node name -> the host pid of the lab node's init (its namespaces are the node's)."""
    with running_lab(tmp_path_factory.mktemp("lab"), "greenbox", "127.0.11.10") as (_, state):
        yield {n["name"]: n["host_pids"][0] for n in state["nodes"]}




@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kubecache"))
    monkeypatch.delenv("KUBECONFIG", raising=False)


@pytest.fixture
def stub(greenbox: dict[str, int], tmp_path: Path) -> Iterator[StubApi]:
    with stub_api.running() as server:
        server.kubelet = LabKubelet(greenbox, tmp_path)
        yield server
        cleanup_debug_pods()  # a failed test leaves nothing either


@pytest.fixture
def opts(stub: StubApi, tmp_path: Path, kubectl_bin: str) -> KubectlOptions:
    return KubectlOptions(kubeconfig=str(stub.kubeconfig(tmp_path / "kubeconfig")), kubectl=kubectl_bin, timeout=10)


_RUNS = iter(range(1, 10_000))


def node(opts: KubectlOptions, name: str = "node01", timeout: float = 20.0, **kw: Any) -> DebugNode:
    return DebugNode(name, opts, DebugOptions(timeout=timeout, **kw), f"t{next(_RUNS)}")


def run_script(debug_node: DebugNode, script: bytes) -> bytes:
    """One script run as root on the node through one debug pod, as a change script is."""
    with debug_node.shell() as shell:
        return shell.run(script)


def direct(pid: int, name: str) -> Any:
    """The same collector fed straight into the node's namespaces, as ssh's sh -s would be."""
    def run(script: bytes) -> bytes:
        return subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-p", "--", "sh", "-s"], input=script,
                              capture_output=True, timeout=60, check=True).stdout
    return collect_view(run, name)[1]


def assert_all_deleted(stub: StubApi) -> None:
    assert stub.pods == {}, "a debug pod was left behind"
    made = [p["metadata"]["name"] for p in stub.created]
    deletes = [path.rsplit("/", 1)[1] for method, path in stub.calls if method == "DELETE"]
    assert set(made) <= set(deletes)


def tolerates(tolerations: list[dict[str, Any]], key: str, effect: str) -> bool:
    """Kubernetes' rule: Exists with no key matches every key; no effect matches every effect."""
    return any((t.get("key") or "") in ("", key) and (t.get("effect") or "") in ("", effect)
               and (t.get("operator") == "Exists" or (t.get("key") == key and t.get("operator") in (None, "Equal")))
               for t in tolerations)


@pytest.mark.parametrize("name", ["node01", "controlplane"])
def test_same_view_as_the_direct_collector_and_the_pod_is_gone(name: str, stub: StubApi, opts: KubectlOptions,
                                                              greenbox: dict[str, int]) -> None:
    view = node(opts, name).load()
    reference = direct(greenbox[name], name)
    assert view.collection["transport"] == "kubectl-debug"
    assert view.collection["pods"] == view.collection["execs"] >= 1
    view.collection = reference.collection = {}
    assert view == reference
    assert view.static_pod_path.value == reference.static_pod_path.value is not None
    assert [(e.path, e.fate) for e in view.entries] == [(e.path, e.fate) for e in reference.entries]
    if name == "node01":
        assert view.static_pod_path.value == "/etc/just-to-mess-with-you"
        assert "static-greenbox-node01" in [p.mirror_name for p in view.static_pods]
    assert_all_deleted(stub)
    for pod in stub.deleted:  # labelled before anything else could go wrong
        assert pod["metadata"]["labels"]["podaudit/run"].startswith("t")
        assert pod["metadata"]["labels"]["app.kubernetes.io/created-by"] == "podaudit"
    assert [m for m, _ in stub.calls].count("PATCH") == len(stub.created)


def test_the_pod_kubectl_creates(stub: StubApi, opts: KubectlOptions) -> None:
    out = run_script(node(opts), b"echo 'PODAUDIT-GATHER ok'\n")
    assert out == b"PODAUDIT-GATHER ok\n"
    [pod] = stub.created
    spec = pod["spec"]
    container = spec["containers"][0]
    assert spec["nodeName"] == "node01" and spec["restartPolicy"] == "Never"
    assert container["securityContext"]["privileged"] is True
    assert spec["hostPID"] and spec["hostNetwork"] and spec["hostIPC"]
    [volume] = spec["volumes"]
    assert volume["hostPath"]["path"] == "/"
    assert {"name": volume["name"], "mountPath": "/host"}.items() <= container["volumeMounts"][0].items()
    assert container["image"] == "busybox:1.37"
    assert tolerates(spec["tolerations"], "node-role.kubernetes.io/control-plane", "NoSchedule")
    assert tolerates(spec["tolerations"], "node.kubernetes.io/unreachable", "NoExecute")
    assert container["command"][:3] == ["sh", "-c", debug.WRAPPER]
    assert container["command"][3].startswith("podaudit-t")
    assert_all_deleted(stub)


def test_a_hostile_script_travels_intact(stub: StubApi, opts: KubectlOptions, tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    text = (f"PODAUDIT-GATHER it's \"quoted\" $(touch {canary}) `touch {canary}` \\ ${{HOME}} ; | & * \n"
            "second line\n\n")
    script = f"cat <<'PODAUDIT_EOF'\n{text}PODAUDIT_EOF\nprintf '\\000\\377\\n'\n".encode()
    out = run_script(node(opts), script)
    assert out == text.encode() + b"\x00\xff\n"  # every byte, NUL and 0xff included
    assert not canary.exists()
    command = stub.created[0]["spec"]["containers"][0]["command"]
    assert len(command) == 5 and command[4] == script.decode()  # nothing of kubectl's own after the script


def one_line_failure(exc: pytest.ExceptionInfo[NodeUnavailable], kind: str, *needles: str) -> str:
    message = exc.value.message
    assert exc.value.node == "node01" and exc.value.kind.value == kind, message
    assert message.startswith("node01: ") and "\n" not in message and "Traceback" not in message
    for needle in needles:
        assert needle in message, message
    return message


def test_image_pull_failure(stub: StubApi, opts: KubectlOptions) -> None:
    stub.pull_failure = True
    with pytest.raises(NodeUnavailable) as exc:
        node(opts, image="registry.invalid/busybox:9").load()
    message = one_line_failure(exc, "image", "registry.invalid/busybox:9", "--debug-image")
    assert "ErrImagePull" in message or "ImagePullBackOff" in message  # whichever the poll saw first
    assert_all_deleted(stub)


def test_admission_refusal(stub: StubApi, opts: KubectlOptions) -> None:
    stub.admission = True
    with pytest.raises(NodeUnavailable) as exc:
        node(opts, namespace="apps").load()
    one_line_failure(exc, "admission", "--debug-namespace", "PodSecurity", "namespace apps")
    assert stub.pods == {}
    assert ("GET", "/api/v1/namespaces/apps/pods") in stub.calls  # looked for a pod by marker anyway


def test_unprivileged_pod_cannot_chroot(stub: StubApi, opts: KubectlOptions) -> None:
    stub.unprivileged = True  # the container really runs without CAP_SYS_CHROOT
    with pytest.raises(NodeUnavailable) as exc:
        node(opts).load()
    one_line_failure(exc, "admission", "chroot /host", "--debug-namespace")
    assert_all_deleted(stub)


def test_garbage_log(stub: StubApi, opts: KubectlOptions) -> None:
    stub.kubelet = lambda pod, cancel: (b"exec /bin/sh: no such file\x1b[31m\nsecond line\n", 1)
    with pytest.raises(NodeUnavailable) as exc:
        node(opts).load()
    message = one_line_failure(exc, "gather", "no end line", "exec /bin/sh: no such file", "second line")
    assert "\x1b" not in message
    assert_all_deleted(stub)


def test_kubectl_timeout(stub: StubApi, opts: KubectlOptions, kubectl_bin: str) -> None:
    stub.hang_create = True
    quick = KubectlOptions(opts.kubeconfig, kubectl=kubectl_bin, timeout=2)
    start = time.monotonic()
    with pytest.raises(NodeUnavailable) as exc:
        node(quick).load()
    assert time.monotonic() - start < 10
    one_line_failure(exc, "timeout", "within 2s")
    assert stub.pods == {}


def test_pod_that_never_ends_times_out_and_is_deleted(stub: StubApi, opts: KubectlOptions) -> None:
    stub.kubelet = hanging_kubelet
    with pytest.raises(NodeUnavailable) as exc:
        node(opts, timeout=1.5).load()
    one_line_failure(exc, "timeout", "did not finish within 1.5s", "phase Running")
    assert_all_deleted(stub)


def start_foreign_pod(opts: KubectlOptions) -> str:
    """Someone else's debug pod on the same node: podaudit must never delete it."""
    out = subprocess.run([opts.kubectl, f"--kubeconfig={opts.kubeconfig}", "debug", "node/node01", "--image=busybox",
                          "--attach=false", "--", "sleep", "1d"], capture_output=True, check=True).stdout
    return out.split()[3].decode()


def wait_for(condition: Any, what: str, limit: float = 15) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.parametrize("window", ["running", "creating"])
def test_interrupt_leaves_no_pod_behind(window: str, stub: StubApi, opts: KubectlOptions) -> None:
    stub.kubelet = hanging_kubelet
    foreign = start_foreign_pod(opts)
    if window == "creating":  # kubectl debug is still running: podaudit does not know the name yet
        stub.create_delay = 30
    errors: list[BaseException] = []
    source = node(opts)

    def worker() -> None:
        try:
            source.load()
        except BaseException as exc:  # recorded for the assertion below
            errors.append(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    wait_for(lambda: len(stub.pods) == 2, "the debug pod")
    time.sleep(0.3)
    assert cleanup_debug_pods() == []  # what the CLI runs after Ctrl-C
    assert list(stub.pods) == [("default", foreign)]
    thread.join(15)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], NodeUnavailable)  # a clean per-node failure, not a crash
    assert errors[0].kind is FailureKind.INTERRUPTED and errors[0].message.startswith("node01: interrupted")
    assert len(stub.created) == 2  # the run started no second pod after the cleanup
    with pytest.raises(NodeUnavailable, match="interrupted"):  # nor does another node of the same run
        DebugNode("controlplane", opts, source.debug, source.run_id).load()
    assert len(stub.created) == 2


SIGINT_SCRIPT = """
import sys, threading, time
from podaudit.transport.kubectl import KubectlOptions
from podaudit.collect.over_kubectl_debug import DebugNode
from podaudit.transport.debug import DebugOptions
from podaudit.transport.debug_pods import register_cleanup
register_cleanup()
node = DebugNode("node01", KubectlOptions(sys.argv[1], kubectl=sys.argv[2], timeout=10), DebugOptions(), "sigint")
if sys.argv[3] == "main":
    node.load()
threading.Thread(target=node.load, daemon=True).start()
while True:
    time.sleep(0.1)
"""


@pytest.mark.parametrize("where", ["worker", "main"])
def test_ctrl_c_in_a_real_process(where: str, stub: StubApi, opts: KubectlOptions) -> None:
    """Ctrl-C in a real process: a daemon worker never runs its finally (the atexit cleanup
    deletes its pod); in the main thread the finally deletes it."""
    stub.kubelet = hanging_kubelet
    proc = subprocess.Popen([sys.executable, "-c", SIGINT_SCRIPT, str(opts.kubeconfig), opts.kubectl, where],
                            cwd=REPO, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: any(r.pod["status"]["phase"] == "Running" for r in stub.pods.values()), "the debug pod")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert b"KeyboardInterrupt" in err
    assert stub.pods == {}
    assert_all_deleted(stub)
    assert len(stub.created) == 1


def test_decode_log() -> None:
    assert debug.decode_log("n", b"UE9EQVVESVQt\nR0FUSEVSIA==\nPODAUDIT-END\n") == b"PODAUDIT-GATHER "
    with pytest.raises(NodeUnavailable, match="not base64"):
        debug.decode_log("n", b"not base64!\nPODAUDIT-END\n")
    with pytest.raises(NodeUnavailable, match="empty log"):
        debug.decode_log("n", b"")


FAKE_KUBECTL = """#!/bin/sh
while case "$1" in --*) true ;; *) false ;; esac; do shift; done  # global flags come first
echo "$*" >> {calls}
case "$1" in
    debug) echo "Creating debugging pod node-debugger-node01-abcde with container debugger on node node01." ;;
    label) echo "pod/node-debugger-node01-abcde labeled" ;;
    get) printf '%s' '{answer}' ;;
    delete) echo deleted ;;
esac
"""


@pytest.mark.parametrize(("answer", "needle"), [
    ("{not json", "did not answer with a pod"),
    ('{"spec": {"containers": [{"command": ["sleep", "1d"]}]}}', "does not run the command podaudit gave it"),
    ('{"spec": {"containers": [{"command": ["sh", "-c", "WRAPPER", "MARKER"]}]}, "status": {"phase": "Failed", '
     '"containerStatuses": [{"state": {"terminated": {"exitCode": "97"}}}]}}', "empty log"),
    ('{"spec": {"containers": [{"command": ["sh", "-c", "WRAPPER", "MARKER"]}]}, "status": {"phase": ["x"], '
     '"containerStatuses": [{"state": {"waiting": "ErrImagePull"}}]}}', "did not finish within 0.5s"),
])
def test_hostile_api_answers_are_one_line_failures(answer: str, needle: str, tmp_path: Path) -> None:
    """Whatever kubectl prints, the user gets a NodeUnavailable (no traceback), and a pod that
    does not carry the marker is never deleted."""
    calls = tmp_path / "calls"
    answer = answer.replace("WRAPPER", debug.WRAPPER.replace("\\", "\\\\").replace('"', '\\"').replace("'", "'\\''"))
    answer = answer.replace("MARKER", "podaudit-hostile-1")
    fake = tmp_path / "kubectl"
    fake.write_text(FAKE_KUBECTL.format(calls=calls, answer=answer))
    fake.chmod(0o755)
    # kubectl's timeout well above what a loaded machine takes to start the fake (5 s once was not)
    source = DebugNode("node01", KubectlOptions(kubectl=str(fake), timeout=30), DebugOptions(timeout=0.5), "hostile")
    with pytest.raises(NodeUnavailable) as exc:
        source.load()
    assert "\n" not in exc.value.message and exc.value.message.startswith("node01: ")
    assert needle in exc.value.message
    deleted = [line for line in calls.read_text().splitlines() if line.startswith("delete")]
    if "does not run" in needle:
        assert deleted == []
    else:
        assert [d.split()[2] for d in deleted] == ["node-debugger-node01-abcde"]


def _cli(opts: KubectlOptions, *args: str) -> list[str]:
    return [sys.executable, "-m", "podaudit", "--kubeconfig", str(opts.kubeconfig), "--kubectl", opts.kubectl,
            "--via", "kubectl-debug", *args]


def test_the_command_line_sweeps_the_apis_nodes_through_debug_pods(stub: StubApi, opts: KubectlOptions) -> None:
    import json

    proc = subprocess.run(_cli(opts, "sweep", "-o", "json"), capture_output=True, text=True, timeout=180, cwd=REPO)
    doc = json.loads(proc.stdout)
    assert [(n["node"], n["collection"]["transport"]) for n in doc["nodes"]] == [
        ("controlplane", "kubectl-debug"), ("node01", "kubectl-debug")], proc.stderr
    assert doc["unavailable"] == []
    assert_all_deleted(stub)
    assert len(stub.created) == sum(n["collection"]["pods"] for n in doc["nodes"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_the_command_deletes_its_pods(sig: signal.Signals, stub: StubApi, opts: KubectlOptions) -> None:
    stub.kubelet = hanging_kubelet
    proc = subprocess.Popen(_cli(opts, "sweep", "--nodes", "node01"), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_for(lambda: any(r.pod["status"]["phase"] == "Running" for r in stub.pods.values()), "the debug pod")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode in (130, 128 + signal.SIGTERM, 3), err
    assert b"Traceback" not in err
    assert_all_deleted(stub)


def test_delete_and_restore_through_debug_pods(stub: StubApi, opts: KubectlOptions, greenbox: dict[str, int],
                                               tmp_path: Path) -> None:
    """The remediation commands reach the node the same way: one debug pod per script."""
    import json

    def on_node(command: str) -> str:
        return subprocess.run(["nsenter", "-t", str(greenbox["node01"]), "-m", "-u", "-p", "--", "sh", "-c", command],
                              capture_output=True, text=True, timeout=30, check=True).stdout

    path = "/etc/just-to-mess-with-you/greenbox.yaml"
    before = on_node(f"sha256sum < {path}; stat -c '%a %u %g' {path}")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.run(_cli(opts, "delete", "static-greenbox-node01", "--yes", "--wait", "0", "-o", "json"),
                          capture_output=True, text=True, timeout=180, cwd=REPO, env={**os.environ, **env})
    done = json.loads(proc.stdout)
    assert proc.returncode == 0 and done["transport"] == "kubectl-debug" and done["outcome"] == "done", proc.stderr
    assert on_node(f"test -e {path} && echo there || echo gone").strip() == "gone"
    proc = subprocess.run(_cli(opts, "restore", done["quarantine_id"], "--node", "node01", "--yes", "--wait", "0",
                               "-o", "json"), capture_output=True, text=True, timeout=180, cwd=REPO,
                          env={**os.environ, **env})
    assert proc.returncode == 0 and json.loads(proc.stdout)["outcome"] == "done", proc.stderr
    assert on_node(f"sha256sum < {path}; stat -c '%a %u %g' {path}") == before
    assert_all_deleted(stub)


@pytest.mark.parametrize(("knob", "kind", "needle"), [
    ("forbid_create", "rbac", "podaudit needs create, get, list, patch and delete on pods"),
    ("pull_failure", "image", "--debug-image"),
    ("admission", "admission", "--debug-namespace"),
])
def test_a_sweep_that_audits_no_node_is_not_green(knob: str, kind: str, needle: str, stub: StubApi,
                                                   opts: KubectlOptions) -> None:
    """Defect: a sweep whose every debug pod was refused (RBAC 403 on create, an image that
    cannot be pulled, PodSecurity) printed "No findings" and exited 0. Every node not audited
    is a PA9xx finding naming the fix, and the exit code is 3."""
    import json

    setattr(stub, knob, True)
    proc = subprocess.run(_cli(opts, "sweep", "-o", "json", "--debug-image", "registry.invalid/busybox:9"),
                          capture_output=True, text=True, timeout=180, cwd=REPO)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3, proc.stderr
    assert doc["nodes"] == []
    assert sorted((u["node"], u["kind"]) for u in doc["unavailable"]) == [("controlplane", kind), ("node01", kind)]
    found = [(f["id"], f["node"]) for f in doc["findings"]]
    assert sorted(found) == [("PA906", "controlplane"), ("PA906", "node01")], doc["findings"]
    assert all(needle in f["message"] for f in doc["findings"]), doc["findings"]
    assert_all_deleted(stub)
    table = subprocess.run(_cli(opts, "sweep"), capture_output=True, text=True, timeout=180, cwd=REPO)
    assert table.returncode == 3 and "No findings" not in table.stdout and "PA906" in table.stdout, table.stdout
