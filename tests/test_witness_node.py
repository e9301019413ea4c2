"""The node's own witnesses (issue 13), asked by the gather script's witness piece.

Each scenario runs alone (tests/sandbox.py: its own PID namespace, /proc and /tmp): a
sleeping "kubelet" chrooted into a kubeadm-like tree (so the script reads the node through
/proc/<pid>/root, as on a node whose kubelet lives in another root), the lab's fake crictl
(scripts/lab_scenarios.py, answering crictl's JSON shapes from files) on PATH, a runtime
socket in the tree, and this test's own HTTPS and HTTP servers standing for the kubelet's
secure and read-only ports, on ports of its own. The piece asks a port only when the
kubelet process holds its listening socket, so the fake kubelet is handed the servers'
listening sockets (SCM_RIGHTS, through HOLD) before it runs: it holds them as a kubelet
holds its own, while this test's threads accept and answer on them. The piece runs through the local Shell
(podaudit/transport/local.py) as the local collector runs it, and under dash and busybox.
Then the same over real SSH in the lab.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from podaudit.collect.local import LocalNode
from podaudit.collect.meta import META_FILE, witnesses_from_json, witnesses_to_json
from podaudit.model import NodeWitnesses, WitnessStatus
from tests.sandbox import run_isolated
from tests.test_crictl import CRASHED, LAST_LINE, broken_control_plane

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import lab_scenarios  # noqa: E402  (scripts/ is not a package)

CRI = "/var/lib/podaudit-lab/cri"  # in the node's tree
SOCKET = "/run/containerd/containerd.sock"
STATIC_POD_PATH = "/etc/kubernetes/manifests"
# Tools the piece may run; busybox provides each as an applet (curl excepted: wget stands in).
BUSYBOX_TOOLS = ("stat", "find", "head", "tail", "dd", "od", "tr", "grep", "ls", "readlink", "cat", "ip", "timeout",
                 "mktemp", "base64", "rm", "wget", "date", "sh")

RUN = """
import json, os, subprocess, sys
sys.path.insert(0, sys.argv[1])
from podaudit.collect.meta import witnesses_to_json
from podaudit.collect.remote import gather_script, parse_gather
from podaudit.transport.local import LocalShell
tools, shell, https, http, mode, budget = sys.argv[2:8]
os.environ["PATH"] = tools + ":" + os.environ["PATH"]
seam = {"kubelet_urls": (https, http)} if https != "-" else {}  # "-": where the kubelet's settings say
script = gather_script(witnesses_only=mode == "witnesses", witness_budget=int(budget), **seam)
if shell == "local":
    stream = LocalShell("cp1", "/").run(script)
else:
    stream = subprocess.run(shell.split() + ["-s"], input=script, capture_output=True, check=True).stdout
snapshot = parse_gather(stream, "cp1")
print(json.dumps({"witnesses": witnesses_to_json(snapshot.witnesses), "files": sorted(snapshot.files)}))
"""


# --- the node ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def static_kubelet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("static") / "kubelet"
    built = subprocess.run(["cc", "-static", "-O2", "-o", str(out), str(REPO / "tests/support/fake_kubelet.c")],
                           capture_output=True, check=False)
    if built.returncode != 0 or shutil.which("chroot") is None:
        pytest.skip("cannot link a static fake kubelet (cc -static) or no chroot")
    return out


@dataclass
class Node:
    """A kubeadm-like node tree, its kubelet's argv, and what its fake runtime answers."""

    root: Path
    tools: Path
    argv: list[str] = field(default_factory=lambda: ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml",
                                                     f"--container-runtime-endpoint=unix://{SOCKET}"])

    def write(self, path: str, data: bytes | str) -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)

    def socket(self, path: str = SOCKET) -> None:
        """A unix socket file where the runtime listens (bound by a child: the path is long)."""
        where = self.root / path.lstrip("/")
        where.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
                        where.name], cwd=where.parent, check=True)

    def broken_control_plane(self) -> None:
        pods, ps, inspect, logs = broken_control_plane()
        self.write(f"{CRI}/pods.json", pods)
        self.write(f"{CRI}/ps.json", ps)
        for container_id, data in inspect.items():
            self.write(f"{CRI}/inspect/{container_id}.json", data)
        for container_id, data in logs.items():
            self.write(f"{CRI}/logs/{container_id}.log", data)

    def calls(self) -> list[str]:
        path = self.root / CRI.lstrip("/") / "calls"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def node(tmp_path: Path, static_kubelet: Path) -> Node:
    root, tools = tmp_path / "node", tmp_path / "tools"
    (root / "usr/bin").mkdir(parents=True)
    shutil.copy(static_kubelet, root / "usr/bin/kubelet")
    tools.mkdir()
    found = Node(root, tools)
    found.write("/var/lib/kubelet/config.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\n"
                f"kind: KubeletConfiguration\nstaticPodPath: {STATIC_POD_PATH}\n")
    found.write(f"{STATIC_POD_PATH}/kube-apiserver.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n")
    crictl = tools / "crictl"
    # The fake reads its answers at the tree's path: the script is run outside the chroot.
    crictl.write_text(lab_scenarios.fake_crictl(str(root / CRI.lstrip("/"))))
    crictl.chmod(0o755)
    return found


@contextmanager
def closed_port_number() -> Iterator[int]:
    """A port of this test's that refuses connections (bound, never listening)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture
def refused() -> Iterator[int]:
    with closed_port_number() as port:
        yield port


# The fake kubelet's first steps: take the listening sockets this test hands over (the
# servers' own, passed over an abstract unix socket: SCM_RIGHTS), keep them open across exec,
# then become the chrooted fake kubelet. A kubelet so holds its ports: /proc/<pid>/fd has them.
HOLD = """
import os, socket, sys
with socket.socket(socket.AF_UNIX) as given:
    given.connect("\\0" + sys.argv[1])
    _, fds, _, _ = socket.recv_fds(given, 16, 16)
for fd in fds:
    os.set_inheritable(fd, True)
os.execvp(sys.argv[2], sys.argv[2:])
"""


@contextmanager
def handing(servers: Sequence[Any]) -> Iterator[str]:
    """The name of an abstract unix socket on which one HOLD is given the servers' sockets."""
    name = f"podaudit-witness-test-{os.urandom(8).hex()}"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind("\0" + name)
        listener.listen(1)
        listener.settimeout(60)

        def give() -> None:
            try:
                taker, _ = listener.accept()
            except OSError:
                return
            with taker:
                socket.send_fds(taker, [b"k"], [server.socket.fileno() for server in servers])

        threading.Thread(target=give, daemon=True).start()
        yield name


@dataclass
class Asked:
    witnesses: NodeWitnesses
    files: list[str]
    pid: int
    leftovers: list[str]


def ask(node: Node, https: str = "-", http: str = "-", shell: str = "local", mode: str = "witnesses",
        tools: Path | None = None, budget: int = 12, hold: Sequence[Any] = (), kubelet: bool = True) -> Asked:
    """Run the witness piece (or the whole first pass) for the node, alone in namespaces; its
    kubelet holds the listening sockets of the servers in ``hold``. https and http: where
    the piece asks (gather_script's kubelet_urls), "-" for where the kubelet's settings say."""
    work = node.root.parent / f"run-{shell.split(maxsplit=1)[0]}-{mode}"
    with handing(hold) as name:
        argv = ["chroot", str(node.root), *node.argv]
        if hold:
            argv = [sys.executable, "-c", HOLD, name, *argv]
        done = run_isolated(work, [(argv, None)] if kubelet else [],
                            [sys.executable, "-c", RUN, str(REPO), str(tools or node.tools), shell, https, http, mode,
                             str(budget)],
                            keep=[node.root.parent])
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    witnesses = witnesses_from_json(doc["witnesses"])
    assert witnesses is not None
    # The private /tmp (beside the kept directories): mktemp's directory must be gone.
    return Asked(witnesses, doc["files"], done.pids[0] if done.pids else 0, leftovers(work))


def leftovers(work: Path) -> list[str]:
    """What mktemp -d left in the run's private /tmp."""
    return [p.name for p in (work / "tmp").iterdir() if p.name.startswith("tmp.")]


def slow_crictl(tmp_path: Path, node: Node, **slow: str) -> Path:
    """A directory with a crictl that sleeps (or fails: "fail") before the fake answers a verb."""
    where = tmp_path / "slow"
    where.mkdir()
    cases = "".join(f"*' {verb} '*) {'exit 1' if how == 'fail' else f'sleep {how}'} ;;\n"
                    for verb, how in slow.items())
    wrapper = where / "crictl"
    wrapper.write_text(f'#!/bin/sh\ncase " $* " in\n{cases}esac\nexec {node.tools / "crictl"} "$@"\n')
    wrapper.chmod(0o755)
    return where


# --- the runtime -------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["local", "dash", "busybox sh"])
def test_a_crash_looping_kube_apiserver_is_told_by_the_runtime(node, refused, shell, tmp_path):
    """crictl -r <the kubelet's endpoint> pods/ps, then inspect and logs of the one failing
    static container only: its exit code 1, 14 restarts and last log line."""
    tools = node.tools
    if shell == "busybox sh":
        tools = busybox_tools(tmp_path, node.tools)
    elif shell != "local" and shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    node.socket()
    node.broken_control_plane()
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}", shell, tools=tools)
    runtime = asked.witnesses.runtime
    # The kubelet's endpoint, said as it names it, reached through its root.
    assert (runtime.witness.status, runtime.witness.via) == (WitnessStatus.HEARD, f"crictl unix://{SOCKET}")
    endpoint = f"unix:///proc/{asked.pid}/root{SOCKET}"
    api = next(p for p in runtime.sandboxes or () if p.name == "kube-apiserver-cp1")
    (run,) = api.containers
    assert (api.source, run.state, run.exit_code, run.reason, run.restarts) == ("file", "exited", 1, "Error", 14)
    assert run.log_tail[-1] == LAST_LINE
    assert node.calls() == [f"-r {endpoint} pods -o json", f"-r {endpoint} ps -a -o json",
                            f"-r {endpoint} inspect -o json {CRASHED}", f"-r {endpoint} logs --tail 5 {CRASHED}"]
    assert asked.leftovers == []


def busybox_tools(tmp_path: Path, fake: Path) -> Path:
    """busybox's applets first on PATH, and the fake crictl."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed (apt-get install -y busybox)")
    directory = tmp_path / "busybox-bin"
    directory.mkdir()
    applets = set(subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split())
    for tool in BUSYBOX_TOOLS:
        if tool in applets:
            (directory / tool).symlink_to(busybox)
    (directory / "crictl").symlink_to(fake / "crictl")
    return directory


def test_a_slow_runtime_is_not_asked_past_the_budget(node, refused, tmp_path):
    """Each crictl call has its seconds (half the budget: 3 s of 6), and no command starts
    unless they fit in what is left of the piece's budget, so a slow runtime cannot push the
    node past its --timeout (the stopped container stays "not inspected", and nothing else
    is lost)."""
    node.socket()
    node.broken_control_plane()
    slow = slow_crictl(tmp_path, node, pods="2", ps="2")
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}", tools=slow, budget=6)
    runtime = asked.witnesses.runtime
    assert runtime.witness.status is WitnessStatus.HEARD
    assert [c.split()[2] for c in node.calls()] == ["pods", "ps"]  # 4 s spent: 3 more do not fit in 6
    assert "not inspected" in runtime.witness.detail
    api = next(p for p in runtime.sandboxes or () if p.name == "kube-apiserver-cp1")
    assert api.containers[0].restarts == 14  # what ps said is kept


def test_no_log_is_asked_without_its_seconds_left(node, refused, tmp_path):
    """The budget is checked before every command, logs included: after a slow pods and a
    slow inspect (4 s of 6), crictl logs (3 s) would end past the budget, so it is not run;
    the exit code inspect told is kept."""
    node.socket()
    node.broken_control_plane()
    slow = slow_crictl(tmp_path, node, pods="2", inspect="2")
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}", tools=slow, budget=6)
    assert [c.split()[2] for c in node.calls()] == ["pods", "ps", "inspect"]
    api = next(p for p in asked.witnesses.runtime.sandboxes or () if p.name == "kube-apiserver-cp1")
    assert (api.containers[0].exit_code, api.containers[0].log_tail) == (1, ())


@pytest.mark.parametrize(("argv", "where"), [
    (["--container-runtime-endpoint", "/run/alt/cri.sock"], "/run/alt/cri.sock"),  # a bare path: unix://
    ([], "/run/k3s/containerd/containerd.sock"),  # the config file's containerRuntimeEndpoint
])
def test_the_endpoint_is_the_kubelets_own(node, refused, argv, where):
    node.argv = ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml", *argv]
    node.write("/var/lib/kubelet/config.yaml", "kind: KubeletConfiguration\nstaticPodPath: /etc/kubernetes/manifests\n"
               "containerRuntimeEndpoint: \"unix:///run/k3s/containerd/containerd.sock\"\n")
    node.socket(where)
    node.socket()  # the usual containerd socket exists too: the kubelet does not use it
    node.broken_control_plane()
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}")
    assert asked.witnesses.runtime.witness.via == f"crictl unix://{where}"
    assert node.calls()[0] == f"-r unix:///proc/{asked.pid}/root{where} pods -o json"
    assert asked.witnesses.runtime.witness.status is WitnessStatus.HEARD


def test_a_runtime_whose_socket_is_gone_is_down(node, refused):
    node.broken_control_plane()
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}")
    runtime = asked.witnesses.runtime
    assert runtime.witness.status is WitnessStatus.FAILED and runtime.sandboxes is None
    assert runtime.witness.detail == (f"the runtime does not answer at unix://{SOCKET} (connect: no such file or "
                                      "directory): it is down")
    assert len(node.calls()) == 1  # pods only: nothing more is asked of a runtime that is down


def test_no_crictl_is_an_absent_runtime(node, refused, tmp_path):
    node.socket()
    (node.tools / "crictl").unlink()
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}")
    assert asked.witnesses.runtime.witness.status is WitnessStatus.ABSENT
    assert "no crictl" in asked.witnesses.runtime.witness.detail


def test_the_first_pass_asks_the_witnesses_with_the_files(node, refused):
    node.socket()
    node.broken_control_plane()
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}", mode="discover")
    assert asked.witnesses.runtime.witness.status is WitnessStatus.HEARD
    assert f"{STATIC_POD_PATH}/kube-apiserver.yaml" in asked.files


def test_hostile_crictl_output_reaches_no_shell(node, refused, tmp_path):
    """IDs and names crafted to run commands are never run: the choice takes hex IDs only."""
    node.socket()
    pods, ps, _, _ = broken_control_plane()
    evil = ps.decode().replace(CRASHED, "$(touch /tmp/pwned)").replace('"kube-apiserver"', '"`touch pwned2`"')
    node.write(f"{CRI}/pods.json", pods)
    node.write(f"{CRI}/ps.json", evil)
    asked = ask(node, f"https://127.0.0.1:{refused}", f"http://127.0.0.1:{refused}")
    assert asked.witnesses.runtime.witness.status is WitnessStatus.HEARD
    assert not any(" inspect " in call for call in node.calls())
    assert asked.leftovers == [] and not list(tmp_path.rglob("pwned*"))


def test_the_lab_crictl_answers_as_crictl_does(node):
    """The fake itself: ps without -a lists running containers only (crictl's default
    state=RUNNING filter), -r to a missing socket fails as crictl's validate service
    connection, an unknown ID is NotFound, logs go to stderr."""
    node.broken_control_plane()
    crictl = [str(node.tools / "crictl"), "-r", f"unix://{node.root}{SOCKET}"]
    down = subprocess.run([*crictl, "pods", "-o", "json"], capture_output=True, text=True)
    assert down.returncode == 1 and "level=fatal" in down.stderr and "validate service connection" in down.stderr
    node.socket()
    running = subprocess.run([*crictl, "ps", "-o", "json"], capture_output=True, text=True, check=True)
    assert [c["metadata"]["name"] for c in json.loads(running.stdout)["containers"]] == ["etcd"]
    every = subprocess.run([*crictl, "ps", "-a", "-o", "json"], capture_output=True, text=True, check=True)
    assert len(json.loads(every.stdout)["containers"]) == 4
    logs = subprocess.run([*crictl, "logs", "--tail", "1", CRASHED], capture_output=True, text=True, check=True)
    assert (logs.stdout, logs.stderr) == ("", LAST_LINE + "\n")
    missing = subprocess.run([*crictl, "inspect", "ab" * 32], capture_output=True, text=True)
    assert missing.returncode == 1 and "NotFound" in missing.stderr


# --- the kubelet -------------------------------------------------------------------------------


def certificate(name: str, ca: tuple[Any, Any] | None = None) -> tuple[bytes, bytes, Any, Any]:
    """(cert PEM, key PEM, cert, key) for CN=name, signed by ca (cert, key) or self-signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_cert, issuer_key = ca if ca else (None, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True))
    if name == "127.0.0.1":
        import ipaddress
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(name))]),
                                        critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert, key


POD_LIST = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [{
    "metadata": {"name": "kube-apiserver-cp1", "namespace": "kube-system", "uid": "3a5d" * 8,
                 "creationTimestamp": None,
                 "annotations": {"kubernetes.io/config.source": "file", "kubernetes.io/config.hash": "3a5d" * 8}},
    "spec": {"containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.30.2"}]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
               "containerStatuses": [{"name": "kube-apiserver", "restartCount": 14,
                                      "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                      "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
}]}
CONFIGZ = {"kubeletconfig": {"staticPodPath": STATIC_POD_PATH, "readOnlyPort": 0}}  # no kind: as a kubelet


class Kubelet(http.server.BaseHTTPRequestHandler):
    """The kubelet's /pods and /configz; who may read them is ``server.answers`` by client CN
    (a kubelet authenticates x509 client certificates against its clientCAFile)."""

    def do_GET(self) -> None:
        cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        who = dict(x[0] for x in cert["subject"])["commonName"] if cert else "anonymous"
        hook = self.server.hooks.get(self.path)  # type: ignore[attr-defined]
        if hook is not None:
            hook(who)
        code, body = self.server.answers.get(who, (401, "Unauthorized"))  # type: ignore[attr-defined]
        if code == 200:
            body = json.dumps(POD_LIST if self.path == "/pods" else CONFIGZ if self.path == "/configz" else {})
            code = 200 if self.path in self.server.paths else 404  # type: ignore[attr-defined]
        self.server.log.append((self.path, who))  # type: ignore[attr-defined]
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if code == 200 else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def kubelet_server(address: str = "127.0.0.1", paths: tuple[str, ...] = ("/pods", "/configz"),
                   answers: dict[str, tuple[int, str]] | None = None) -> Any:
    """A Kubelet server, not yet serving (serving() starts it)."""
    server = http.server.ThreadingHTTPServer((address, 0), Kubelet)
    server.answers, server.paths, server.log, server.hooks = answers or {}, set(paths), [], {}  # type: ignore[attr-defined]
    return server


@contextmanager
def serving(server: Any) -> Iterator[Any]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def read_only_port() -> Iterator[Any]:
    """The kubelet's read-only port: plain HTTP, anyone may read /pods, there is no /configz."""
    with serving(kubelet_server(paths=("/pods",), answers={"anonymous": (200, "")})) as server:
        yield server


@dataclass
class Secure:
    url: str
    server: Any
    client: dict[str, tuple[bytes, bytes]]  # name -> (cert, key), all signed by the kubelet's client CA

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


@contextmanager
def secure_port(tmp_path: Path, address: str = "127.0.0.1") -> Iterator[Secure]:
    """The kubelet's secure port: TLS with its own serving certificate, client certificates
    checked against its client CA (CERT_OPTIONAL: no certificate is anonymous, 401)."""
    ca_pem, _, ca_cert, ca_key = certificate("kubernetes")
    server_pem, server_key, _, _ = certificate("127.0.0.1")
    (tmp_path / "server.crt").write_bytes(server_pem)
    (tmp_path / "server.key").write_bytes(server_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cadata=ca_pem.decode())
    server = kubelet_server(address)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    clients = {n: certificate(n, (ca_cert, ca_key))[:2] for n in
               ("kube-apiserver-kubelet-client", "kubernetes-admin", "system:node:cp1")}
    with serving(server):
        yield Secure(f"https://{address}:{server.server_address[1]}", server, clients)


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[Secure]:
    with secure_port(tmp_path) as found:
        yield found


def give_certificates(node: Node, secure: Secure, *which: str) -> None:
    """The node's client certificates: kubeadm's pki pair, admin.conf's embedded one, the kubelet's own."""
    if "pki" in which:
        cert, key = secure.client["kube-apiserver-kubelet-client"]
        node.write("/etc/kubernetes/pki/apiserver-kubelet-client.crt", cert)
        node.write("/etc/kubernetes/pki/apiserver-kubelet-client.key", key)
    if "admin" in which:
        cert, key = secure.client["kubernetes-admin"]
        node.write("/etc/kubernetes/admin.conf", (
            "apiVersion: v1\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n"
            f"    client-certificate-data: {base64.b64encode(cert).decode()}\n"
            f"    client-key-data: {base64.b64encode(key).decode()}\n"))
    if "own" in which:
        cert, key = secure.client["system:node:cp1"]
        node.write("/var/lib/kubelet/pki/kubelet-client-current.pem", cert + key)


def node_config(node: Node, **keys: object) -> None:
    """The kubelet's config file, with these keys besides kubeadm's."""
    node.write("/var/lib/kubelet/config.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
               f"staticPodPath: {STATIC_POD_PATH}\n" + "".join(f"{key}: {value}\n" for key, value in keys.items()))


def test_the_kubelet_is_heard_on_its_secure_port_with_kubeadms_certificate(node, secure, refused):
    give_certificates(node, secure, "pki", "admin")
    secure.server.answers["kube-apiserver-kubelet-client"] = (200, "")
    asked = ask(node, secure.url, f"http://127.0.0.1:{refused}", hold=[secure.server])
    kubelet = asked.witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.HEARD
    assert kubelet.witness.via == f"{secure.url} (apiserver-kubelet-client)"
    (pod,) = kubelet.pods or ()
    assert (pod.name, pod.source, pod.containers[0].restarts) == ("kube-apiserver-cp1", "file", 14)
    assert kubelet.configz == CONFIGZ["kubeletconfig"]
    assert secure.server.log == [("/pods", "kube-apiserver-kubelet-client"),
                                 ("/configz", "kube-apiserver-kubelet-client")]


def test_a_refused_certificate_is_followed_by_admin_conf_and_its_copy_is_removed(node, secure, refused):
    give_certificates(node, secure, "pki", "admin", "own")
    secure.server.answers["kube-apiserver-kubelet-client"] = (
        403, "Forbidden (user=kube-apiserver-kubelet-client, verb=get, resource=nodes, subresource(s)=[proxy])")
    secure.server.answers["kubernetes-admin"] = (200, "")
    asked = ask(node, secure.url, f"http://127.0.0.1:{refused}", hold=[secure.server])
    assert asked.witnesses.kubelet.witness.status is WitnessStatus.HEARD
    assert asked.witnesses.kubelet.witness.via == f"{secure.url} (admin.conf)"
    assert [who for _, who in secure.server.log] == ["kube-apiserver-kubelet-client", "kubernetes-admin",
                                                     "kubernetes-admin"]
    assert asked.leftovers == []  # admin.conf's key was written to a private directory, now gone


def test_a_webhook_that_cannot_reach_the_api_server_is_a_refusal_that_says_so(node, secure, refused):
    """kubeadm's kubelet authorizes with a webhook (SubjectAccessReview): with the API server
    down it answers 500 "Authorization error" to every certificate."""
    give_certificates(node, secure, "pki", "admin", "own")
    for name in secure.client:
        secure.server.answers[name] = (500, "Authorization error (user=kube-apiserver-kubelet-client, verb=get, "
                                            "resource=nodes, subresource=proxy)")
    asked = ask(node, secure.url, f"http://127.0.0.1:{refused}", hold=[secure.server])
    kubelet = asked.witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.REFUSED and kubelet.pods is None
    assert "could not ask the API server" in kubelet.witness.detail
    assert len(secure.server.log) == 1  # the same webhook answers every identity: not asked again


def test_the_read_only_port_is_asked_when_the_secure_one_is_not_heard(node, secure):
    """No certificate on the node: the secure port is not tried; /pods on the read-only port
    (which has no /configz), open here because the config file sets readOnlyPort."""
    with read_only_port() as plain:
        node_config(node, readOnlyPort=plain.server_address[1])
        asked = ask(node, hold=[plain])
    kubelet = asked.witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.HEARD and kubelet.configz is None
    assert kubelet.witness.via == f"http://127.0.0.1:{plain.server_address[1]}"
    assert [p.name for p in kubelet.pods or ()] == ["kube-apiserver-cp1"]
    assert secure.server.log == []


def test_nothing_listening_is_an_absent_kubelet_saying_which(node, secure, refused):
    give_certificates(node, secure, "pki")
    node_config(node, port=refused)
    kubelet = ask(node).witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.ABSENT
    assert f"nothing listening on port {refused}" in kubelet.witness.detail


# --- which ports, and whose: the kubelet's own settings and sockets ------------------------------


@pytest.mark.parametrize("how", ["config", "flag over config", "flag in two words"])
def test_the_secure_port_is_the_one_the_kubelet_serves_on(node, secure, refused, how):
    """`port` (--port; v1beta1 default 10250) names the secure port; a flag wins over the
    config file, as kubeletConfigFlagPrecedence (cmd/kubelet/app/server.go) makes it."""
    give_certificates(node, secure, "pki")
    secure.server.answers["kube-apiserver-kubelet-client"] = (200, "")
    node_config(node, port=secure.port if how == "config" else refused)
    node.argv += {"config": [], "flag over config": [f"--port={secure.port}"],
                  "flag in two words": ["--port", str(secure.port)]}[how]
    kubelet = ask(node, hold=[secure.server]).witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.HEARD
    assert kubelet.witness.via == f"https://127.0.0.1:{secure.port} (apiserver-kubelet-client)"
    assert kubelet.configz == CONFIGZ["kubeletconfig"]


@pytest.mark.parametrize(("setting", "listens", "asked"), [
    ("--address=127.0.0.2", "127.0.0.2", "127.0.0.2"),
    ("address: 127.0.0.2", "127.0.0.2", "127.0.0.2"),
    ('address: "::"', "127.0.0.1", "127.0.0.1"),  # every address: the loopback one is the kubelet's too
])
def test_the_kubelet_is_asked_on_the_address_it_binds(node, tmp_path, setting, listens, asked):
    """`address` (--address; default 0.0.0.0) may bind one IP only: that one is asked."""
    with secure_port(tmp_path, listens) as secure:
        give_certificates(node, secure, "pki")
        secure.server.answers["kube-apiserver-kubelet-client"] = (200, "")
        if setting.startswith("--"):
            node_config(node, port=secure.port)
            node.argv.append(setting)
        else:
            node_config(node, port=secure.port, address=setting.split(": ", 1)[1])
        kubelet = ask(node, hold=[secure.server]).witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.HEARD
    assert kubelet.witness.via == f"https://{asked}:{secure.port} (apiserver-kubelet-client)"


@pytest.mark.parametrize(("flags", "keys", "seam", "open_"), [
    ([], {}, True, False),  # --config: readOnlyPort defaults to 0 (v1beta1): closed
    ([], {"readOnlyPort": "PORT"}, False, True),
    (["--read-only-port=PORT"], {}, False, True),
    (["--read-only-port", "0"], {"readOnlyPort": "PORT"}, True, False),  # the flag wins
    (None, {}, True, True),  # no --config: applyLegacyDefaults opens 10255 (the test's port stands for it)
])
def test_the_read_only_port_is_asked_only_when_the_kubelet_opens_it(node, flags, keys, seam, open_):
    """readOnlyPort is 0 whenever the kubelet runs with --config unless it is set;
    10255 only without --config (applyLegacyDefaults, cmd/kubelet/app/options/options.go)."""
    with read_only_port() as plain:
        port = str(plain.server_address[1])
        node_config(node, **{k: v.replace("PORT", port) for k, v in keys.items()})
        if flags is None:
            node.argv = ["/usr/bin/kubelet"]
        else:
            node.argv += [f.replace("PORT", port) for f in flags]
        url = f"http://127.0.0.1:{port}"
        at = ("https://127.0.0.1:1", url) if seam else ("-", "-")
        kubelet = ask(node, *at, hold=[plain]).witnesses.kubelet
    if open_:
        assert (kubelet.witness.status, kubelet.witness.via) == (WitnessStatus.HEARD, url)
    else:
        assert plain.log == []
        assert kubelet.witness.status is WitnessStatus.ABSENT
        assert "the read-only port is off (readOnlyPort 0" in kubelet.witness.detail


@pytest.mark.parametrize("port", ["secure", "read-only"])
def test_a_port_another_process_listens_on_is_not_asked(node, secure, port):
    """Before any certificate is sent (or any answer trusted), the socket listening on the
    port must be the kubelet's own: its inode, from /proc/<kubelet>/net/tcp, among the
    kubelet's open files. Here this test's server holds it, not the kubelet."""
    give_certificates(node, secure, "pki", "admin", "own")
    for name in secure.client:
        secure.server.answers[name] = (200, "")
    with read_only_port() as plain:
        if port == "secure":
            ask_at, number = (secure.url, "http://127.0.0.1:1"), secure.port
        else:
            node.argv = ["/usr/bin/kubelet"]  # the read-only port is open, and no secure port listens
            ask_at, number = ("https://127.0.0.1:1", f"http://127.0.0.1:{plain.server_address[1]}"), \
                plain.server_address[1]
        asked = ask(node, *ask_at)
    assert secure.server.log == [] and plain.log == []
    kubelet = asked.witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.ABSENT
    assert f"port {number} is not the kubelet's (another process listens)" in kubelet.witness.detail
    assert asked.leftovers == []


def test_no_kubelet_running_is_no_kubelet_asked(node, secure):
    """Without a kubelet process there is no port to trust: nothing is asked."""
    (node.tools / "crictl").unlink()
    with read_only_port() as plain:
        asked = ask(node, secure.url, f"http://127.0.0.1:{plain.server_address[1]}", kubelet=False)
    assert secure.server.log == [] and plain.log == []
    kubelet = asked.witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.ABSENT and "no kubelet process" in kubelet.witness.detail


# --- the time budget and the hang-up --------------------------------------------------------------


def test_the_kubelet_is_not_asked_once_the_runtime_spent_the_budget(node, secure, tmp_path):
    """Budget 8 s, 4 s a command: after a slow runtime (~5 s), neither inspect nor the
    kubelet's secure port fits; no certificate is sent, and the witness says why."""
    give_certificates(node, secure, "pki")
    secure.server.answers["kube-apiserver-kubelet-client"] = (200, "")
    node_config(node, port=secure.port)
    node.socket()
    node.broken_control_plane()
    slow = slow_crictl(tmp_path, node, pods="3", ps="2")
    asked = ask(node, secure.url, "http://127.0.0.1:1", tools=slow, budget=8, hold=[secure.server])
    assert [c.split()[2] for c in node.calls()] == ["pods", "ps"]
    assert secure.server.log == []
    kubelet = asked.witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.ABSENT and "no time left" in kubelet.witness.detail


def test_configz_is_not_asked_without_its_seconds_left(node, secure, tmp_path):
    """/pods at ~3 s answers at ~4.5 s: /configz (4 s more) would end past the 8 s budget."""
    give_certificates(node, secure, "pki")
    secure.server.answers["kube-apiserver-kubelet-client"] = (200, "")
    secure.server.hooks["/pods"] = lambda who: time.sleep(1.5)
    node_config(node, port=secure.port)
    node.socket()
    node.broken_control_plane()
    asked = ask(node, secure.url, "http://127.0.0.1:1", tools=slow_crictl(tmp_path, node, pods="3", ps="fail"),
                budget=8, hold=[secure.server])
    assert secure.server.log == [("/pods", "kube-apiserver-kubelet-client")]
    kubelet = asked.witnesses.kubelet
    assert kubelet.witness.status is WitnessStatus.HEARD and kubelet.configz is None
    assert "no /configz: no time left" in kubelet.witness.detail


def test_the_witness_budget_is_a_third_of_the_nodes_timeout():
    from podaudit.collect.witnesses import command_seconds, witness_budget

    assert [witness_budget(t) for t in (0.5, 3, 10, 30, 36, 120)] == [1, 1, 3, 10, 12, 12]
    assert [command_seconds(b) for b in (1, 3, 8, 10, 12)] == [1, 1, 4, 5, 5]


def test_each_transport_gives_its_witnesses_a_third_of_its_timeout(monkeypatch):
    """The first pass's script carries the budget: SSH from its --timeout (10 s by default:
    3 s, 1 s a command), kubectl debug from the debug pod's timeout, the local collector
    from LOCAL_TIMEOUT."""
    from podaudit.collect import local, over_kubectl_debug, over_ssh
    from podaudit.errors import NodeUnavailable
    from podaudit.model import InventoryEntry
    from podaudit.transport import SshOptions
    from podaudit.transport.debug import DebugOptions
    from podaudit.transport.kubectl import KubectlOptions

    scripts: list[bytes] = []

    def run(script: bytes) -> bytes:
        scripts.append(script)
        return b""  # no marker: the collection fails, as a node whose sh is missing

    class Stand:
        pods, leftovers = 0, []

        def __init__(self, *args: object, **kwargs: object) -> None:
            self.run = run

    @contextmanager
    def root_shell(*args: object) -> Iterator[Any]:
        yield run

    monkeypatch.setattr(over_ssh, "root_shell", root_shell)
    monkeypatch.setattr(over_kubectl_debug, "DebugSession", Stand)
    monkeypatch.setattr(local, "LocalShell", Stand)
    monkeypatch.setattr(local, "LOCAL_TIMEOUT", 9)
    with pytest.raises(NodeUnavailable):
        over_ssh.collect_over_ssh(InventoryEntry("n1"), SshOptions(timeout=10.0), False)
    with pytest.raises(NodeUnavailable):
        over_kubectl_debug.DebugNode("n1", KubectlOptions(), DebugOptions(timeout=30.0)).load()
    assert local.local_witnesses("n1").kubelet.witness.status is WitnessStatus.FAILED

    def said(script: bytes, name: bytes) -> int:
        found = re.search(rb"^" + name + rb"=([0-9]+)$", script, re.M)
        assert found is not None
        return int(found.group(1))

    assert [(said(s, b"WBUDGET"), said(s, b"WSECS")) for s in scripts] == [(3, 1), (10, 5), (3, 1)]


# The reader of the piece's output that hangs up as podaudit would: as soon as FILE exists.
HANG_UP = """
import os, select, sys
while not os.path.exists(sys.argv[1]):
    if select.select([0], [], [], 0.05)[0] and not os.read(0, 65536):
        break
"""


@pytest.mark.parametrize("shell", ["dash", "busybox sh"])
def test_a_hang_up_mid_request_leaves_no_copy_of_admins_key(node, secure, tmp_path, shell):
    """podaudit hangs up while the kubelet answers the request made with admin.conf's
    certificate: the piece's next write gets SIGPIPE, and its trap removes the private
    directory holding the copy of admin.conf's key before the shell exits."""
    if shutil.which(shell.split()[0]) is None:
        pytest.skip(f"{shell} is not installed")
    tools = busybox_tools(tmp_path, node.tools) if shell == "busybox sh" else node.tools
    give_certificates(node, secure, "admin")
    secure.server.answers["kubernetes-admin"] = (200, "")
    trigger = tmp_path / "hung-up"

    def hang_up(who: str) -> None:
        trigger.touch()
        time.sleep(1)  # the reader is gone before the answer comes

    secure.server.hooks["/pods"] = hang_up
    from podaudit.collect.remote import gather_script

    script = tmp_path / "script.sh"
    script.write_bytes(gather_script(witnesses_only=True, kubelet_urls=(secure.url, "http://127.0.0.1:1")))
    command = f'PATH={tools}:$PATH {shell} -s < "$1" | "$2" -c "$3" "$4"'
    work = tmp_path / "run"
    with handing([secure.server]) as name:
        done = run_isolated(work, [([sys.executable, "-c", HOLD, name, "chroot", str(node.root), *node.argv], None)],
                            ["sh", "-c", command, "sh", str(script), sys.executable, HANG_UP, str(trigger)],
                            keep=[tmp_path])
    assert done.returncode == 0, done.stderr
    assert trigger.exists() and secure.server.log == [("/pods", "kubernetes-admin")]
    assert leftovers(work) == []


def test_a_busybox_only_node_is_heard_through_wget_on_the_read_only_port(node, tmp_path):
    """No curl: busybox wget (bounded by timeout(1), never -T: busybox 1.35 crashes on it)
    asks the read-only port; the secure port needs a client certificate wget cannot send."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed (apt-get install -y busybox)")
    from podaudit.collect.remote import gather_script, parse_gather

    for name in ("bin", "proc", "dev", "tmp", "lib64", "lib/x86_64-linux-gnu"):
        (node.root / name).mkdir(parents=True, exist_ok=True)
    (node.root / "tmp").chmod(0o1777)
    shutil.copy(busybox, node.root / "bin/busybox")
    for line in subprocess.run(["ldd", busybox], capture_output=True, text=True, check=True).stdout.splitlines():
        library = next((w for w in line.split() if w.startswith("/")), None)
        if library:
            shutil.copy(library, node.root / library.lstrip("/"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox" and not (node.root / "bin" / applet).exists():
            (node.root / "bin" / applet).symlink_to("busybox")
    script, stream = tmp_path / "script.sh", tmp_path / "stream"
    with read_only_port() as plain, handing([plain]) as name:
        node_config(node, readOnlyPort=plain.server_address[1])
        script.write_bytes(gather_script(witnesses_only=True))
        command = (f"mount --bind /proc {node.root}/proc && mount --bind /dev {node.root}/dev && "
                   f"chroot {node.root} /bin/sh -s < {script} > {stream}")
        done = run_isolated(tmp_path / "run", [([sys.executable, "-c", HOLD, name, "chroot", str(node.root),
                                                 *node.argv], None)],
                            ["sh", "-c", command], keep=[tmp_path])
    assert done.returncode == 0, done.stderr
    said = parse_gather(stream.read_bytes(), "cp1").witnesses
    assert said is not None and said.kubelet.witness.status is WitnessStatus.HEARD
    assert [p.name for p in said.kubelet.pods or ()] == ["kube-apiserver-cp1"]
    assert said.kubelet.witness.detail == "no /configz: the read-only port has none"
    assert b"no curl for the secure port" in stream.read_bytes()
    assert said.runtime.witness.status is WitnessStatus.ABSENT  # no crictl in there


# --- the local collector and bundles' side files -----------------------------------------------


def test_a_tree_has_no_witnesses_unless_its_side_file_kept_them(tmp_path):
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    assert LocalNode(str(tree)).snapshot.witnesses is None
    pods, ps, inspect, logs = broken_control_plane()
    from podaudit.collect.witnesses import WitnessRecords, witnesses_of
    from tests.test_crictl import answers

    said = witnesses_of(WitnessRecords(cri=answers(pods, ps, inspect, logs)))
    (tree / META_FILE).write_text(json.dumps({"witnesses": witnesses_to_json(said)}))
    assert LocalNode(str(tree)).snapshot.witnesses == said
    (tree / META_FILE).write_text(json.dumps({"witnesses": {"kubelet": {"status": "maybe"}, "runtime": []}}))
    assert LocalNode(str(tree)).snapshot.witnesses is None


def test_this_machines_node_asks_its_own_witnesses(node, tmp_path):
    """LocalNode("/") runs the witness piece here (no network: nothing on the kubelet's ports)."""
    node.socket()
    node.broken_control_plane()
    code = ("import json, os, sys; sys.path.insert(0, sys.argv[1]); os.environ['PATH'] = sys.argv[2] + ':' + "
            "os.environ['PATH']\nfrom podaudit.collect.local import LocalNode\nfrom podaudit.collect.meta import "
            "witnesses_to_json\nprint(json.dumps(witnesses_to_json(LocalNode('/').snapshot.witnesses)))")
    done = run_isolated(tmp_path / "run", [(["chroot", str(node.root), *node.argv], None)],
                        ["unshare", "--net", sys.executable, "-c", code, str(REPO), str(node.tools)],
                        keep=[tmp_path])
    assert done.returncode == 0, done.stderr
    witnesses = witnesses_from_json(json.loads(done.stdout))
    assert witnesses is not None and witnesses.runtime.witness.status is WitnessStatus.HEARD
    assert witnesses.kubelet.witness.status is WitnessStatus.ABSENT


# --- over real SSH -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from tests.lab_helpers import running_lab, why_no_lab

    if why_no_lab() is not None:
        pytest.skip(str(why_no_lab()))
    with running_lab(tmp_path_factory.mktemp("witnesslab"), "greenbox", "127.0.33.10") as (path, _):
        yield path


def on_controlplane(lab: Path, script: str) -> str:
    done = subprocess.run(["ssh", "-F", str(lab / "ssh_config"), "controlplane", "sh -s"], input=script.encode(),
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode(errors="replace")


def test_over_ssh_a_control_plane_whose_api_server_crashes_is_told_by_its_runtime(lab):
    """The lab's fake crictl on a kubeadm control plane: the kubelet's endpoint
    (--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock) has a socket,
    kube-apiserver's newest container exited 1 at its 14th restart. One SSH exec tells it,
    with the last log line."""
    from podaudit.collect.over_ssh import collect_over_ssh
    from podaudit.model import InventoryEntry
    from podaudit.transport import SshOptions
    from podaudit.transport.ssh import load_ssh_config

    pods, ps, inspect, logs = broken_control_plane()
    files = {"pods.json": pods, "ps.json": ps, f"inspect/{CRASHED}.json": inspect[CRASHED],
             f"logs/{CRASHED}.log": logs[CRASHED]}
    writes = "".join(f"mkdir -p {CRI}/inspect {CRI}/logs && printf '%s' {base64.b64encode(data).decode()} | "
                     f"base64 -d > {CRI}/{name}\n" for name, data in files.items())
    bind = "import socket; socket.socket(socket.AF_UNIX).bind('/var/run/containerd/containerd.sock')"
    host_had_it = os.path.lexists("/run/containerd/containerd.sock")
    on_controlplane(lab, f"{writes}mkdir -p /var/run/containerd && /usr/bin/python3 -c \"{bind}\"\n")
    assert os.path.lexists("/run/containerd/containerd.sock") == host_had_it  # the node's /run is its own
    config = load_ssh_config(str(lab / "ssh_config"))
    options = SshOptions(ssh_config=str(lab / "ssh_config"))
    _, snapshot, execs = collect_over_ssh(InventoryEntry("controlplane"), options, False, config)
    assert execs == 1
    assert snapshot.witnesses is not None
    runtime = snapshot.witnesses.runtime
    assert runtime.witness.status is WitnessStatus.HEARD
    assert runtime.witness.via == "crictl unix:///var/run/containerd/containerd.sock"
    api = next(p for p in runtime.sandboxes or () if p.name == "kube-apiserver-cp1")
    (run,) = api.containers
    assert (api.source, run.exit_code, run.restarts, run.log_tail[-1]) == ("file", 1, 14, LAST_LINE)
    calls = on_controlplane(lab, f"cat {CRI}/calls; ls /tmp | grep -c '^tmp\\.' || true").splitlines()
    assert calls[-1] == "0"  # nothing left in the node's /tmp
    assert sum(" inspect " in c for c in calls) == 1
