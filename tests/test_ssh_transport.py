"""The SSH transport against real sshd processes on loopback addresses: no mocks.

Three sshd serve the module: A (127.0.2.10, ed25519 and ecdsa host keys) and B (127.0.2.11)
allow TCP forwarding, C (127.0.2.12) does not. Their DEBUG logs show which connections a
jump host forwarded and whether a client ever tried to authenticate.
"""

import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from podaudit.transport import SshError, SshOptions, SshTarget
from podaudit.transport.hostkeys import host_key_name, judge, load_known_hosts
from podaudit.transport.ssh import connect, load_ssh_config, resolve_target
from podaudit.transport.sshconfig import plan_route

SSHD = "/usr/sbin/sshd"
ADDRESSES = {"a": "127.0.2.10", "b": "127.0.2.11", "c": "127.0.2.12"}
RELAY = """\
import os, socket, sys, threading
host, port, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(marker, "a") as f:
    f.write(f"{host} {port}\\n")
upstream = socket.create_connection((host, port))
def up():
    while data := os.read(0, 65536):
        upstream.sendall(data)
    upstream.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while data := upstream.recv(65536):
    os.write(1, data)
"""


@dataclass
class Lab:
    root: Path
    port: int
    client_key: Path
    host_keys: dict[str, list[Path]] = field(default_factory=dict)  # public key files per server
    logs: dict[str, Path] = field(default_factory=dict)

    def entry(self, name, pub=None):
        """A known_hosts line for server ``name``: [address]:port keytype base64."""
        keytype, blob = (pub or self.host_keys[name][0]).read_text().split()[:2]
        return f"[{ADDRESSES[name]}]:{self.port} {keytype} {blob}\n"

    def known_hosts(self, tmp_path, *names):
        path = tmp_path / "known_hosts"
        path.write_text("".join(self.entry(name) for name in names))
        return path

    def config(self, tmp_path, text, servers=True):
        """An ssh_config: ``text`` (formatted with {port}, {key}, {a}, {b}, {c}), then by default
        the servers' aliases and a ``Host *`` block that reaches them."""
        path = tmp_path / "ssh_config"
        path.write_text((text + (SERVERS if servers else "")).format(port=self.port, key=self.client_key, **ADDRESSES))
        return path

    def log_text(self, name):
        return self.logs[name].read_text(errors="replace")


# Aliases for the three servers, appended to every test's ssh_config.
SERVERS = """
Host alpha
  HostName {a}
Host beta
  HostName {b}
Host gamma
  HostName {c}
Host *
  Port {port}
  User root
  IdentityFile {key}
  IdentitiesOnly yes
  GlobalKnownHostsFile /dev/null
"""


def keygen(path, kind="ed25519", *extra):
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "", "-f", str(path), *extra], check=True)
    return path


def free_port():
    """A port free on all three addresses (sshd binds the same port on each)."""
    for _ in range(20):
        with socket.socket() as probe:
            probe.bind((ADDRESSES["a"], 0))
            port = probe.getsockname()[1]
        try:
            for address in ADDRESSES.values():
                with socket.socket() as other:
                    other.bind((address, port))
        except OSError:
            continue
        return port
    pytest.fail("no free port on 127.0.2.10-12")


def wait_listening(address, port, proc, log):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd on {address} exited: {log.read_text() if log.exists() else ''}")
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"sshd on {address}:{port} did not listen")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        pytest.fail("the SSH tests need OpenSSH's sshd and ssh-keygen (apt-get install openssh-server)")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir, as its unit makes
    root = tmp_path_factory.mktemp("sshd")
    client_key = keygen(root / "client")
    (root / "authorized_keys").write_text((root / "client.pub").read_text())
    lab = Lab(root=root, port=free_port(), client_key=client_key)
    procs = []
    try:
        for name, address in ADDRESSES.items():
            kinds = ["ed25519", "ecdsa"] if name == "a" else ["ed25519"]
            keys = [keygen(root / f"host_{name}_{kind}", kind) for kind in kinds]
            lab.host_keys[name] = [Path(f"{key}.pub") for key in keys]
            cfg = root / f"sshd_{name}.conf"
            cfg.write_text(
                "".join(f"HostKey {key}\n" for key in keys)
                + (
                    f"ListenAddress {address}:{lab.port}\nAuthorizedKeysFile {root / 'authorized_keys'}\n"
                    "PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nPidFile none\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\nLogLevel DEBUG1\n"
                    f"AllowTcpForwarding {'no' if name == 'c' else 'yes'}\n"
                )
            )
            lab.logs[name] = root / f"sshd_{name}.log"
            # -E, not -e: with -e the session child's debug lines land in the command's stderr.
            procs.append(subprocess.Popen([SSHD, "-D", "-E", str(lab.logs[name]), "-f", str(cfg)]))
            wait_listening(address, lab.port, procs[-1], lab.logs[name])
        yield lab
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=5)


@pytest.fixture(autouse=True)
def hermetic(tmp_path, monkeypatch):
    """No agent, no ~/.ssh of the person running the tests."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def options(lab, tmp_path, *names, **kwargs):
    """Options for the servers ``names`` are known for (unless ``known_hosts`` is given)."""
    if "ssh_config" not in kwargs:
        kwargs["ssh_config"] = str(lab.config(tmp_path, ""))
    if "known_hosts" not in kwargs:
        kwargs["known_hosts"] = str(lab.known_hosts(tmp_path, *names))
    kwargs.setdefault("timeout", 5.0)
    return SshOptions(**kwargs)


def open_node(alias, opts, address=None):
    return connect(resolve_target(alias, opts, address=address), opts)


def server_address(conn):
    """The server side of SSH_CONNECTION: which sshd really ran the command."""
    status, out, _ = conn.run("echo $SSH_CONNECTION")
    assert status == 0
    address, port = out.split()[2:4]
    return address.decode(), int(port)


def failure(alias, opts, address=None):
    with pytest.raises(SshError) as caught:
        open_node(alias, opts, address).close()
    return caught.value


# -- commands ------------------------------------------------------------------------------


def test_command_gets_stdin_and_returns_status_stdout_stderr(lab, tmp_path):
    script = b"echo out; echo err >&2; exit 3\n"
    with open_node("alpha", options(lab, tmp_path, "a")) as conn:
        status, out, err = conn.run("sh -s", stdin=script)
        assert (status, out, err) == (3, b"out\n", b"err\n"), err
        assert conn.run("cat", stdin=b"") == (0, b"", b"")  # stdin is EOF'd even when empty


def test_large_streams_do_not_deadlock(lab, tmp_path):
    big = os.urandom(3_000_000)
    with open_node("alpha", options(lab, tmp_path, "a")) as conn:
        status, out, err = conn.run("head -c 5000000 /dev/zero; head -c 2000000 /dev/zero >&2", timeout=20)
        assert (status, len(out), len(err)) == (0, 5_000_000, 2_000_000)
        # cat writes stdout while we are still writing its stdin: both windows fill.
        status, out, err = conn.run("cat; cat /dev/null >&2", stdin=big, timeout=20)
        assert (status, out == big, err) == (0, True, b"")


def test_command_past_its_timeout_fails_and_the_connection_stays_usable(lab, tmp_path):
    with open_node("alpha", options(lab, tmp_path, "a")) as conn:
        start = time.monotonic()
        with pytest.raises(SshError) as caught:
            conn.run("sleep 20", timeout=1)
        assert caught.value.kind == "timeout"
        assert time.monotonic() - start < 3
        assert "sleep 20" in str(caught.value)
        assert conn.run("echo still here") == (0, b"still here\n", b"")


def test_an_endless_stream_is_cut_at_its_cap_and_the_connection_stays_usable(lab, tmp_path):
    import resource

    from podaudit.transport.limits import MAX_NODE_STDERR, MAX_NODE_STDOUT

    with open_node("alpha", options(lab, tmp_path, "a")) as conn:
        for command, where, limit in (("cat /dev/zero", "on stdout", MAX_NODE_STDOUT),
                                      ("cat /dev/zero >&2", "on stderr", MAX_NODE_STDERR)):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
            start = time.monotonic()
            with pytest.raises(SshError) as caught:
                conn.run(command, timeout=30)
            assert caught.value.kind == "gather"
            assert f"sent more than {limit >> 20} MiB {where}" in caught.value.message
            assert time.monotonic() - start < 20  # stopped at the cap, not at the timeout
            grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
            assert grown < (limit >> 10) + 200_000  # the cap and some buffers, not what the node sent
        assert conn.run("echo still here") == (0, b"still here\n", b"")


def test_a_node_whose_forced_command_floods_is_one_line_and_not_audited(lab, tmp_path):
    import json

    from tests.cli_helpers import run

    flood = keygen(tmp_path / "flood")
    with open(lab.root / "authorized_keys", "a") as keys:  # this key's logins run cat, whatever was asked
        keys.write(f'command="cat /dev/zero" {(tmp_path / "flood.pub").read_text()}')
    config, known = lab.config(tmp_path, ""), lab.known_hosts(tmp_path, "a")
    start = time.monotonic()
    proc = run("sweep", "--no-api", "--nodes", "alpha", "--ssh-config", str(config), "--known-hosts", str(known),
               "--identity", str(flood), "--timeout", "60", "-o", "json")
    assert time.monotonic() - start < 40
    assert proc.returncode == 3, proc.stderr
    [failure] = json.loads(proc.stdout)["unavailable"]
    assert failure["kind"] == "gather" and failure["node"] == "alpha"
    assert "the node sent more than 64 MiB on stdout" in failure["message"] and "\n" not in failure["message"]


# -- ssh_config ----------------------------------------------------------------------------


def test_config_resolution_patterns_tokens_and_include(lab, tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d/10-prod.conf").write_text("Host prod-*\n  User produser\n  Port 2200\n")
    config = load_ssh_config(
        str(
            lab.config(
                tmp_path,
                f"""
Include {tmp_path}/conf.d/*.conf
Host node-* !node-9
  HostName %h.cluster.example
  User admin
  IdentityFile ~/keys/%h-%r
  UserKnownHostsFile ~/kh/%n /tmp/other_known_hosts
  StrictHostKeyChecking no
Host node-9
  ProxyCommand {sys.executable} relay.py %h %p %r %n %%
Host *
  User fallback
  IdentitiesOnly yes
  HashKnownHosts yes
""",
                servers=False,
            )
        )
    )
    opts = SshOptions()
    home = os.environ["HOME"]
    node = resolve_target("node-1", opts, config)
    assert (node.alias, node.hostname, node.port, node.user) == ("node-1", "node-1.cluster.example", 22, "admin")
    assert node.identity_files == (f"{home}/keys/node-1.cluster.example-admin",)
    assert node.known_hosts_files == (f"{home}/kh/node-1", "/tmp/other_known_hosts")
    assert node.global_known_hosts_files == ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
    assert (node.identities_only, node.hash_known_hosts, node.strict) == (True, True, "yes")  # "no" is not honoured
    assert resolve_target("node-1", SshOptions(accept_new_host_keys=True), config).strict == "accept-new"

    negated = resolve_target("node-9", SshOptions(user="ops"), config)  # !node-9: the node-* block is skipped
    assert (negated.hostname, negated.user) == ("node-9", "ops")  # --user beats the config
    assert negated.proxy_command == f"{sys.executable} relay.py node-9 22 ops node-9 %"
    assert negated.identity_files == ()  # no IdentityFile and no default key in this HOME

    included = resolve_target("prod-1", opts, config)
    assert (included.user, included.port) == ("produser", 2200)
    # After the Include, the lines that follow it in the including file are global again.
    assert resolve_target("other", opts, config).user == "fallback"
    inventory = resolve_target("node-2", opts, config, address="10.0.0.2")
    assert (inventory.hostname, inventory.user) == ("10.0.0.2", "admin")  # Host matched on the alias


def test_proxy_jump_and_proxy_command_first_obtained_wins(lab, tmp_path):
    config = load_ssh_config(
        str(
            lab.config(
                tmp_path,
                """
Host jumpfirst
  ProxyJump bastion
Host commandfirst
  ProxyCommand ssh -W %h:%p bastion
Host nojump bastion
  ProxyJump none
Host *
  ProxyJump ssh://ops@bastion:2222,[fd00::1]:2200
  ProxyCommand nc %h %p
""",
                servers=False,
            )
        )
    )
    first = resolve_target("jumpfirst", SshOptions(), config)
    assert (first.proxy_jump, first.proxy_command) == (("bastion",), None)
    command = resolve_target("commandfirst", SshOptions(), config)
    assert (command.proxy_jump, command.proxy_command) == ((), "ssh -W commandfirst:22 bastion")
    assert resolve_target("nojump", SshOptions(), config).proxy_jump == ()
    chained = resolve_target("far", SshOptions(user="root"), config)
    assert chained.proxy_jump == ("ssh://ops@bastion:2222", "[fd00::1]:2200")
    route = plan_route(chained, SshOptions(user="root"), config)
    assert [(hop.hostname, hop.port, hop.user) for hop in route] == [
        ("bastion", 2222, "ops"),
        ("fd00::1", 2200, None),
        ("far", 22, "root"),
    ]  # --user is for the node only

    looping = load_ssh_config(str(lab.config(tmp_path, "Host *\n  ProxyJump bastion\n", servers=False)))
    with pytest.raises(SshError, match="does not end") as caught:
        plan_route(resolve_target("far", SshOptions(), looping), SshOptions(), looping)
    assert caught.value.kind == "config"


def test_ssh_config_errors_name_the_file(lab, tmp_path):
    unreadable = tmp_path / "unreadable"
    unreadable.write_text("Host x\n")
    unreadable.chmod(0)
    paths = [tmp_path, tmp_path / "missing"] + ([unreadable] if os.geteuid() != 0 else [])  # root reads anyway
    for path in paths:
        with pytest.raises(SshError) as caught:
            load_ssh_config(str(path))
        assert caught.value.kind == "config"
        assert str(path) in str(caught.value)
    bad = tmp_path / "bad_config"
    bad.write_text("Host ok\n  User me\nHost\n")
    with pytest.raises(SshError) as caught:
        resolve_target("ok", SshOptions(ssh_config=str(bad)))
    assert caught.value.kind == "config"
    assert str(caught.value).startswith(f"{bad}:3: ")
    loop = tmp_path / "loop"
    loop.write_text(f"Include {loop}\n")
    with pytest.raises(SshError, match="Include nested"):
        load_ssh_config(str(loop))


def test_alias_resolves_hostname_user_port_and_identity(lab, tmp_path):
    with open_node("beta", options(lab, tmp_path, "b")) as conn:
        assert server_address(conn) == (ADDRESSES["b"], lab.port)


def test_inventory_address_replaces_the_host_but_not_the_host_block(lab, tmp_path):
    opts = options(lab, tmp_path, "b")
    with open_node("alpha", opts, address=ADDRESSES["b"]) as conn:
        assert server_address(conn) == (ADDRESSES["b"], lab.port)


# -- jump hosts and ProxyCommand -----------------------------------------------------------


def wait_for_log(lab, name, text):
    deadline = time.monotonic() + 3
    while text not in lab.log_text(name):
        assert time.monotonic() < deadline, f"{text!r} not in sshd {name}'s log"
        time.sleep(0.05)


def test_proxy_jump_through_one_host(lab, tmp_path):
    opts = options(
        lab, tmp_path, "a", "b", ssh_config=str(lab.config(tmp_path, "Host inner\n  ProxyJump alpha\n  HostName {b}\n"))
    )
    with open_node("inner", opts) as conn:
        assert server_address(conn) == (ADDRESSES["b"], lab.port)
    wait_for_log(lab, "a", f"target {ADDRESSES['b']} port {lab.port}")


def test_proxy_jump_chain_of_two_with_user_host_port_hop(lab, tmp_path):
    config = "Host far\n  HostName {c}\n  ProxyJump alpha,root@{b}:{port}\n"
    opts = options(lab, tmp_path, "a", "b", "c", ssh_config=str(lab.config(tmp_path, config)))
    with open_node("far", opts) as conn:
        assert server_address(conn) == (ADDRESSES["c"], lab.port)
        assert conn.run("echo through two") == (0, b"through two\n", b"")
    wait_for_log(lab, "a", f"target {ADDRESSES['b']} port {lab.port}")
    wait_for_log(lab, "b", f"target {ADDRESSES['c']} port {lab.port}")


def test_jump_host_without_forwarding_is_reported(lab, tmp_path):
    opts = options(
        lab, tmp_path, "a", "c", ssh_config=str(lab.config(tmp_path, "Host via-c\n  HostName {a}\n  ProxyJump gamma\n"))
    )
    error = failure("via-c", opts)
    assert error.kind == "unreachable"
    assert "AllowTcpForwarding" in str(error)


def test_jump_host_key_is_checked_too(lab, tmp_path):
    opts = options(
        lab, tmp_path, "b", ssh_config=str(lab.config(tmp_path, "Host inner\n  ProxyJump alpha\n  HostName {b}\n"))
    )
    error = failure("inner", opts)  # alpha's key is not in known_hosts
    assert error.kind == "host-key-unknown"
    assert "jump host alpha" in str(error)


def test_proxy_command_relays_the_connection(lab, tmp_path):
    relay, marker = tmp_path / "relay.py", tmp_path / "relay.log"
    relay.write_text(RELAY)
    config = f"Host relayed\n  HostName {{a}}\n  ProxyCommand {sys.executable} {relay} %h %p {marker}\n"
    opts = options(lab, tmp_path, "a", ssh_config=str(lab.config(tmp_path, config)))
    with open_node("relayed", opts) as conn:
        assert conn.run("echo relayed") == (0, b"relayed\n", b"")
    assert marker.read_text() == f"{ADDRESSES['a']} {lab.port}\n"


def test_failing_proxy_command_reports_its_stderr(lab, tmp_path):
    config = "Host broken\n  ProxyCommand sh -c 'echo no route to bastion >&2; exit 7'\n"
    error = failure("broken", options(lab, tmp_path, "a", ssh_config=str(lab.config(tmp_path, config))))
    assert error.kind == "unreachable"
    assert "status 7" in str(error)
    assert "no route to bastion" in str(error)


# -- host keys -----------------------------------------------------------------------------


def fingerprint_by_ssh_keygen(pub):
    return subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout.split()[1]


def auth_attempts(lab, name):
    return lab.log_text(name).count("userauth-request")


def test_unknown_host_key_is_refused_before_authentication(lab, tmp_path):
    time.sleep(0.2)  # earlier tests' sshd children finish logging
    before = auth_attempts(lab, "a")
    error = failure("alpha", options(lab, tmp_path))
    assert error.kind == "host-key-unknown"
    assert fingerprint_by_ssh_keygen(lab.host_keys["a"][0]) in str(error)
    assert f"[{ADDRESSES['a']}]:{lab.port}" in str(error)
    assert "ssh-keyscan" in str(error)
    assert "--accept-new-host-keys" in str(error)
    time.sleep(0.2)
    assert auth_attempts(lab, "a") == before  # nothing but the key exchange was sent


def test_hashed_known_hosts_entry_is_accepted(lab, tmp_path):
    known = lab.known_hosts(tmp_path, "a")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|")
    with open_node("alpha", options(lab, tmp_path, known_hosts=str(known))) as conn:
        assert conn.run("true")[0] == 0


def test_known_key_type_is_asked_for(lab, tmp_path):
    """A also has an ed25519 key (preferred by default); only its ecdsa key is on file."""
    known = tmp_path / "known_hosts"
    known.write_text(lab.entry("a", lab.host_keys["a"][1]))
    with open_node("alpha", options(lab, tmp_path, known_hosts=str(known))) as conn:
        assert conn.run("true")[0] == 0


def test_changed_host_key_is_refused_even_with_accept_new(lab, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(lab.entry("a", Path(f"{keygen(tmp_path / 'impostor')}.pub")))
    before = known.read_text()
    error = failure("alpha", options(lab, tmp_path, known_hosts=str(known), accept_new_host_keys=True))
    assert error.kind == "host-key-changed"
    assert "ssh-keygen -R" in str(error)
    assert known.read_text() == before


def test_revoked_host_key_is_refused(lab, tmp_path):
    known = lab.known_hosts(tmp_path, "a")
    known.write_text(known.read_text() + "@revoked " + lab.entry("a"))
    error = failure("alpha", options(lab, tmp_path, known_hosts=str(known), accept_new_host_keys=True))
    assert (error.kind, "@revoked" in str(error)) == ("host-key-changed", True)


def test_accept_new_records_the_key_once_then_strict_works(lab, tmp_path):
    known = tmp_path / "fresh/sub/known_hosts"
    opts = options(lab, tmp_path, known_hosts=str(known), accept_new_host_keys=True)
    results = []

    def one():
        try:
            with open_node("beta", opts) as conn:
                results.append(conn.run("true")[0])
        except SshError as exc:
            results.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [0] * 6
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert known.read_text() == lab.entry("b")  # one line, in OpenSSH's format
    found = subprocess.run(
        ["ssh-keygen", "-F", f"[{ADDRESSES['b']}]:{lab.port}", "-f", str(known)], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    with open_node("beta", options(lab, tmp_path, known_hosts=str(known))) as conn:
        assert conn.run("true")[0] == 0


def test_accept_new_honours_hash_known_hosts(lab, tmp_path):
    known = tmp_path / "known_hosts"
    config = lab.config(tmp_path, "Host *\n  HashKnownHosts yes\n")
    with open_node(
        "alpha", options(lab, tmp_path, ssh_config=str(config), known_hosts=str(known), accept_new_host_keys=True)
    ):
        pass
    assert known.read_text().startswith("|1|")
    found = subprocess.run(
        ["ssh-keygen", "-F", f"[{ADDRESSES['a']}]:{lab.port}", "-f", str(known)], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr


def test_known_hosts_names_and_patterns(lab, tmp_path):
    target = SshTarget(
        alias="n",
        hostname="Node.Example",
        port=22,
        user=None,
        identity_files=(),
        proxy_jump=(),
        proxy_command=None,
        known_hosts_files=(),
        identities_only=False,
        strict="yes",
    )
    assert host_key_name(target) == "node.example"
    assert host_key_name(replace(target, hostname="fd00::1", port=2222)) == "[fd00::1]:2222"
    assert host_key_name(replace(target, port=2222, host_key_alias="Node01")) == "node01"
    key = lab.host_keys["a"][0].read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"garbage line\n*.example,!bad.example {key[0]} {key[1]}\nx ssh-ed25519 !!notbase64\n")
    entries = load_known_hosts([str(known), str(tmp_path / "absent")])
    assert len(entries) == 1  # malformed lines are skipped, a missing file is no error
    server_key = entries[0].key
    assert judge("node.example", server_key, entries)[0] == "known"
    assert judge("bad.example", server_key, entries)[0] == "unknown"  # negated
    assert judge("[node.example]:2222", server_key, entries)[0] == "unknown"  # "[" is literal, not a class


# -- failures ------------------------------------------------------------------------------


def test_refused_port_is_unreachable_quickly(lab, tmp_path):
    with socket.socket() as probe:
        probe.bind((ADDRESSES["a"], 0))
        port = probe.getsockname()[1]
    config = lab.config(tmp_path, f"Host closed\n  HostName {{a}}\n  Port {port}\n")
    start = time.monotonic()
    error = failure("closed", options(lab, tmp_path, ssh_config=str(config)))
    assert error.kind == "unreachable"
    assert "connection refused" in str(error)
    assert "closed" in str(error)
    assert time.monotonic() - start < 2


def test_server_that_never_speaks_times_out(lab, tmp_path):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        config = lab.config(tmp_path, f"Host silent\n  HostName 127.0.0.1\n  Port {silent.getsockname()[1]}\n")
        start = time.monotonic()
        error = failure("silent", options(lab, tmp_path, ssh_config=str(config), timeout=1.0))
    assert error.kind == "timeout"
    assert time.monotonic() - start < 3
    assert "silent" in str(error)


def test_wrong_key_is_an_auth_error_naming_the_keys(lab, tmp_path):
    stranger = keygen(tmp_path / "stranger")
    config = lab.config(
        tmp_path,
        f"Host stranger\n  HostName {{a}}\n  Port {{port}}\n  User root\n"
        f"  IdentityFile {stranger}\n  IdentityFile {tmp_path}/absent\n",
        servers=False,
    )
    error = failure("stranger", options(lab, tmp_path, "a", ssh_config=str(config)))
    assert error.kind == "auth"
    assert str(stranger) in str(error)
    assert f"{tmp_path}/absent (missing)" in str(error)
    assert "'root'" in str(error)
    assert "no ssh-agent (SSH_AUTH_SOCK unset)" in str(error)


def test_identity_flag_must_exist(lab, tmp_path):
    with pytest.raises(SshError) as caught:
        resolve_target("alpha", options(lab, tmp_path, "a", identity=str(tmp_path / "nope")))
    assert caught.value.kind == "config"


# -- ssh-agent -----------------------------------------------------------------------------


@pytest.fixture
def agent(tmp_path, monkeypatch, lab):
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 5
        while not sock.exists():
            assert time.monotonic() < deadline, "ssh-agent did not start"
            time.sleep(0.05)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        subprocess.run(["ssh-add", "-q", str(lab.client_key)], check=True, capture_output=True)
        yield sock
    finally:
        proc.terminate()
        proc.wait()


def test_agent_keys_are_used(lab, tmp_path, agent):
    config = lab.config(tmp_path, "Host by-agent\n  HostName {a}\n  Port {port}\n  User root\n", servers=False)
    with open_node("by-agent", options(lab, tmp_path, "a", ssh_config=str(config))) as conn:
        assert conn.run("true")[0] == 0


def test_identities_only_keeps_agent_keys_out(lab, tmp_path, agent):
    config = lab.config(
        tmp_path, "Host by-agent\n  HostName {a}\n  Port {port}\n  User root\n  IdentitiesOnly yes\n", servers=False
    )
    error = failure("by-agent", options(lab, tmp_path, "a", ssh_config=str(config)))
    assert error.kind == "auth"
    assert "no agent keys (IdentitiesOnly)" in str(error)


def test_passphrase_key_is_used_through_the_agent_only(lab, tmp_path, agent, monkeypatch):
    locked = tmp_path / "locked"
    shutil.copy(lab.client_key, locked)
    shutil.copy(f"{lab.client_key}.pub", f"{locked}.pub")
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", "secret", "-f", str(locked)], check=True)
    config = lab.config(
        tmp_path,
        f"Host locked\n  HostName {{a}}\n  Port {{port}}\n  User root\n  IdentityFile {locked}\n  IdentitiesOnly yes\n",
        servers=False,
    )
    opts = options(lab, tmp_path, "a", ssh_config=str(config))
    with open_node("locked", opts) as conn:
        assert conn.run("true")[0] == 0
    monkeypatch.delenv("SSH_AUTH_SOCK")
    error = failure("locked", opts)
    assert error.kind == "auth"
    assert "passphrase-protected, not in ssh-agent" in str(error)
