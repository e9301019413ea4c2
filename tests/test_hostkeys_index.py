"""known_hosts read once per run and looked up by name (issue 17): the index says what OpenSSH
says (``ssh-keygen -F``, the real binary), each file is read and parsed once however many
connections check it, and a file that changes mid-run (accept-new's append, an edit) is seen."""

from __future__ import annotations

import base64
import os
import random
import struct
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import paramiko
import pytest

from podaudit.transport import SshError, SshOptions, hostindex
from podaudit.transport import files as ssh_files
from podaudit.transport.hostkeys import judge, load_known_hosts
from podaudit.transport.ssh import connect, load_ssh_config, resolve_target
from tests import test_ssh_transport as ssh_lab
from tests.test_ssh_transport import keygen, options

lab = ssh_lab.lab  # three real sshd servers, for this module too
hermetic = ssh_lab.hermetic  # no ssh-agent, no ~/.ssh of the person running the tests


def _blob(number: int) -> str:
    """A well-formed ssh-ed25519 public key, distinct per number."""
    def string(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data
    return base64.b64encode(string(b"ssh-ed25519") + string(number.to_bytes(32, "big"))).decode()


def _found_by_ssh_keygen(name: str, path: Path) -> list[int]:
    out = subprocess.run(["ssh-keygen", "-F", name, "-f", str(path)], capture_output=True, text=True, check=False)
    return [int(line.split("found: line ")[1].split()[0]) for line in out.stdout.splitlines()
            if line.startswith("# Host ")]


def _found_by_index(name: str, path: Path) -> list[int]:
    return [int(entry.origin.rsplit(":", 1)[1]) for entry in hostindex.known_hosts([str(path)]).matching(name)]


def test_the_index_matches_the_lines_ssh_keygen_finds(tmp_path: Path) -> None:
    """Plain, hashed (by ssh-keygen -H itself), wildcard, negated, [host]:port, @revoked and
    @cert-authority lines among 300 unrelated ones: for every name, the same lines as OpenSSH."""
    rng = random.Random(17)
    hashed = tmp_path / "hashed"
    hashed.write_text("".join(f"{names} ssh-ed25519 {_blob(n)}\n" for n, names in enumerate(
        ["gamma.example", "[gamma.example]:2200", "10.9.9.9", "delta.example,10.9.9.10"]
        + [f"far-{rng.randrange(10**6)}.example" for _ in range(150)], 1)))
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True, capture_output=True)
    assert hashed.read_text().count("|1|") == 155  # the name list became two hashed lines
    special = [
        "alpha.example", "10.1.2.3", "[10.1.2.3]:2222", "beta.example,10.1.2.4", "EPSILON.Example",
        "*.example,!beta.example", "!*.lab,node-1.lab", "node-?.lab", "10.1.*", "[alpha.example]:*",
        "@revoked alpha.example", f"@revoked {paramiko.HostKeys.hash_host('gamma.example')}",
        "@cert-authority *.lab", "# a comment", "@cert-authority,@revoked x.example",
    ]
    plain = [f"near-{rng.randrange(10**6)}.example,10.{rng.randrange(256)}.0.1" for _ in range(150)]
    lines = [f"{names} ssh-ed25519 {_blob(1000 + n)}" for n, names in enumerate(special + plain)]
    known = tmp_path / "known_hosts"
    known.write_text(hashed.read_text() + "\n".join(rng.sample(lines, len(lines))) + "\n")
    names = ["alpha.example", "beta.example", "gamma.example", "delta.example", "epsilon.example",
             "[gamma.example]:2200", "[gamma.example]:22", "10.9.9.9", "10.9.9.10", "10.1.2.3",
             "[10.1.2.3]:2222", "10.1.2.4", "10.1.9.9", "node-1.lab", "node-2.lab", "node-12.lab",
             "[alpha.example]:2222", "x.example", "nowhere.test", plain[7].split(",")[0]]
    for name in names:
        assert _found_by_index(name, known) == _found_by_ssh_keygen(name, known), name
    assert len(_found_by_index("alpha.example", known)) == 3  # plain, wildcard, revoked ([..]:* is not it)


def test_the_index_agrees_with_checking_each_line(tmp_path: Path) -> None:
    """Odd lines too (empty patterns, upper case, a hashed name in a list, malformed hashes and
    keys): the index finds exactly the entries ``KnownKey.matches`` finds line by line."""
    rng = random.Random(4)
    names = ["a.example", "b.example", "10.0.0.1", "[10.0.0.1]:2222", "node-1", "node-12", "A.Example", ""]
    patterns = [*names, "*.example", "node-?", "node-*", "!b.example", "!node-1", "[10.0.0.1]:*", "*", "!*",
                "|2|x|y", "|1|AAAA|AAAA", paramiko.HostKeys.hash_host("x") + "x"]
    lines = []
    for number in range(600):
        chosen = rng.sample(patterns, rng.randint(1, 3))
        if rng.random() < 0.3:
            chosen = [paramiko.HostKeys.hash_host(rng.choice(names).lower()), *chosen[:rng.randint(0, 1)]]
        marker = rng.choice(["", "", "", "@revoked ", "@cert-authority ", "@other "])
        key = _blob(rng.randint(1, 5)) if number % 20 else "!!notbase64"
        lines.append(f"{marker}{','.join(chosen)} ssh-ed25519 {key}")
    known = tmp_path / "known_hosts"
    known.write_text("\n".join(lines) + "\n")
    every = load_known_hosts([str(known)])
    for name in {name.lower() for name in names} | {"node-123", "zzz"}:
        def seen(entries: list[Any]) -> list[tuple[str, bool, bool, bytes]]:
            return [(e.origin, e.revoked, e.authority, e.key.asbytes()) for e in entries]
        assert seen(_entries(known, name)) == seen([e for e in every if e.matches(name)]), name


def _entries(path: Path, name: str) -> list[Any]:
    return hostindex.known_hosts([str(path)]).matching(name)


def test_a_malformed_hashed_name_is_skipped_not_a_traceback(tmp_path: Path) -> None:
    """``|1|AAAA|AAAA`` (a 3-byte salt) made paramiko's hash_host fail an assert for every node."""
    known = tmp_path / "known_hosts"
    known.write_text(f"|1|AAAA|AAAA ssh-ed25519 {_blob(1)}\nnode.example ssh-ed25519 {_blob(2)}\n")
    key = load_known_hosts([str(known)])[1].key
    assert judge("node.example", key, load_known_hosts([str(known)]))[0] == "known"
    assert judge("node.example", key, hostindex.known_hosts([str(known)]))[0] == "known"


def test_an_appended_line_is_seen_and_only_the_new_lines_are_parsed(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("".join(f"far-{n}.example ssh-ed25519 {_blob(n)}\n" for n in range(1, 500)))
    assert _entries(known, "new.example") == []
    with known.open("a") as handle:
        handle.write(f"new.example ssh-ed25519 {_blob(999)}\n")
    parsed: list[int] = []
    real = hostindex.numbered_lines

    def counting(data: bytes, first: int = 1) -> Any:
        parsed.append(data.count(b"\n"))
        return real(data, first)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hostindex, "numbered_lines", counting)
        assert [e.origin for e in _entries(known, "new.example")] == [f"{known}:500"]
    assert parsed == [1]
    known.write_text(known.read_text().replace("new.example", "old.example"))  # an edit: read again
    assert _entries(known, "new.example") == []
    assert [e.origin for e in _entries(known, "old.example")] == [f"{known}:500"]


def _counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, counts: Counter[str]) -> None:
    real = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        counts[str(args[-1] if owner is paramiko.SSHConfig else args[0])] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


def test_a_sweep_reads_each_file_once(lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """24 connections from 8 threads to two hosts: known_hosts read and parsed once, the
    identity parsed once, ssh_config looked up once per host."""
    opts = options(lab, tmp_path, "a", "b")
    known = Path(str(opts.known_hosts))
    known.write_text(known.read_text() + "".join(f"far-{n}.example ssh-ed25519 {_blob(n)}\n" for n in range(2000)))
    old = time.time() - 600
    os.utime(known, (old, old))  # an operator's file, not one written this second
    # Empty caches: another test of this module may have read the lab's files already.
    monkeypatch.setattr(ssh_files, "_IDENTITIES", ssh_files.FileCache())
    monkeypatch.setattr(hostindex, "_FILES", hostindex.FileCache(limit=16))
    reads: Counter[str] = Counter()
    _counting(monkeypatch, hostindex, "read_ssh_file", reads)
    _counting(monkeypatch, paramiko.PKey, "from_path", reads)
    _counting(monkeypatch, paramiko.SSHConfig, "lookup", reads)
    config = load_ssh_config(opts.ssh_config)

    def one(alias: str) -> int:
        with connect(resolve_target(alias, opts, config), opts, config) as conn:
            return conn.run("true")[0]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, ["alpha", "beta"] * 12)) == [0] * 24
    assert reads[str(known)] == 1
    assert reads[str(lab.client_key)] == 1
    assert (reads["alpha"], reads["beta"]) == (1, 1)


def test_a_key_recorded_mid_run_is_seen_and_an_edit_too(lab: Any, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("".join(f"far-{n}.example ssh-ed25519 {_blob(n)}\n" for n in range(300)))
    strict = options(lab, tmp_path, known_hosts=str(known))
    config = load_ssh_config(strict.ssh_config)

    def attempt(opts: SshOptions) -> str:
        try:
            connect(resolve_target("alpha", opts, config), opts, config).close()
        except SshError as exc:
            return exc.kind
        return "ok"

    assert attempt(strict) == "host-key-unknown"
    assert attempt(replace(strict, accept_new_host_keys=True)) == "ok"  # appended under the lock
    assert attempt(strict) == "ok"
    impostor = Path(f"{keygen(tmp_path / 'impostor')}.pub").read_text().split()[1]
    recorded = known.read_text().splitlines()[-1].split()
    known.write_text(known.read_text().replace(recorded[2], impostor))  # the same size: the bytes decide
    assert attempt(strict) == "host-key-changed"


def test_an_identity_changed_mid_run_is_read_again(tmp_path: Path) -> None:
    key = keygen(tmp_path / "id")
    first = ssh_files.load_identity(str(key))
    assert ssh_files.load_identity(str(key)) is first
    keygen(tmp_path / "other")
    os.replace(tmp_path / "other", key)
    assert ssh_files.load_identity(str(key)).asbytes() != first.asbytes()
