"""Sweeps over SSH against the lab's fault scenario: every failure reported per node, within
the timeout, the rest of the sweep complete, nothing injected."""

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest

from tests.cli_helpers import PODAUDIT, SCHEMA, run
from tests.lab_helpers import running_lab

TIMEOUT = "3"


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    with running_lab(tmp_path_factory.mktemp("lab"), "faults", "127.0.6.10") as (lab, _):
        yield lab


def sweep(lab, *extra):
    start = time.monotonic()
    proc = run("sweep", "--inventory", str(lab / "inventory"), "--ssh-config", str(lab / "ssh_config"),
               "--timeout", TIMEOUT, "-o", "json", *extra)
    elapsed = time.monotonic() - start
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    return proc.returncode, doc, elapsed


def tarpit_accepts(lab: Path) -> list[str]:
    """The connections the lab's tarpit has accepted so far: it logs "accepted ADDRESS PORT"."""
    log = lab / "tarpit.log"
    return [line for line in log.read_text().splitlines() if line.startswith("accepted ")] if log.exists() else []


def tarpit_settled(lab: Path) -> int:
    """How many connections the tarpit has accepted, once every connection made before this
    call is among them: one of our own queues behind them (a listen queue is first in, first
    out), and the count is taken when the tarpit has logged ours (included)."""
    tarpit = json.loads((lab / "state.json").read_text())["tarpit"]
    with socket.create_connection((tarpit["address"], tarpit["port"]), timeout=5) as ours:
        address, port = ours.getsockname()[:2]
        deadline = time.monotonic() + 10
        while f"accepted {address} {port}" not in (seen := tarpit_accepts(lab)):
            assert time.monotonic() < deadline, "the tarpit did not accept a connection within 10 s"
            time.sleep(0.02)
    return len(seen)


def test_a_sweep_reports_every_fault_and_finishes_the_rest(faults):
    before = tarpit_settled(faults)
    code, doc, elapsed = sweep(faults)
    assert tarpit_settled(faults) > before + 1  # the sweep knocked on the tarpit (besides our own)
    assert code == 3  # some nodes could not be audited; the report covers the rest
    failed = {f["node"]: f["kind"] for f in doc["unavailable"]}
    assert failed == {"down": "unreachable", "tarpit": "timeout", "rekeyed": "host-key-changed",
                      "unknown": "host-key-unknown"}
    assert elapsed < float(TIMEOUT) + 8  # the tarpit never holds up the rest
    audited = {n["node"]: n for n in doc["nodes"]}
    assert set(audited) == {"ok", "bignode", "oddnames"}
    assert audited["ok"]["static_pods"][0]["mirror_name"] == "static-greenbox-ok"
    messages = {f["node"]: f["message"] for f in doc["unavailable"]}
    assert "SHA256:" in messages["unknown"] and "--accept-new-host-keys" in messages["unknown"]


def test_a_20_mb_manifest_is_refused_not_sent(faults):
    _, doc, _ = sweep(faults)
    [big] = [n for n in doc["nodes"] if n["node"] == "bignode"]
    [huge] = [e for e in big["entries"] if e["path"].endswith("huge.yaml")]
    assert huge["fate"] == "rejected" and "too large" in huge["reason"]


def test_hostile_file_names_arrive_intact_and_run_nothing(faults):
    _, doc, _ = sweep(faults)
    [odd] = [n for n in doc["nodes"] if n["node"] == "oddnames"]
    loaded = {p["name"] for p in odd["static_pods"]}
    assert {"odd-newline", "odd-command", "odd-quote", "odd-latin1"} <= loaded
    names = {e["path"].rsplit("/", 1)[1] for e in odd["entries"]}
    assert "new\nline.yaml" in names and "$(touch $(printf '\\057tmp\\057pwned')).yaml" in names
    assert "latin1-\udce9t\udce9.yaml" in names  # an undecodable byte, kept as it is
    assert not Path("/tmp/pwned").exists()


def test_sudo_refusals_say_what_to_allow(faults):
    code, doc, _ = sweep(faults, "--user", "pwsudo", "--sudo", "--nodes", "ok")
    assert code == 3
    [failure] = doc["unavailable"]
    assert failure["kind"] == "sudo"
    assert "pwsudo ALL=(root) NOPASSWD: /bin/sh -s" in failure["message"]


def test_sudo_collects_what_a_plain_user_cannot_read(faults):
    code, doc, _ = sweep(faults, "--user", "auditor", "--nodes", "ok")
    [plain] = doc["nodes"]
    assert code == 3 and plain["incomplete"]  # the 0600 manifest is not readable as auditor
    code, doc, _ = sweep(faults, "--user", "auditor", "--sudo", "--nodes", "ok")
    [node] = doc["nodes"]
    assert code == 0 and node["incomplete"] == []
    assert [p["mirror_name"] for p in node["static_pods"]] == ["static-greenbox-ok"]


def test_accept_new_records_an_unknown_key_but_never_a_changed_one(faults, tmp_path):
    known = tmp_path / "known_hosts"
    shutil.copy(faults / "known_hosts", known)
    code, doc, _ = sweep(faults, "--known-hosts", str(known), "--accept-new-host-keys", "--nodes", "unknown,rekeyed")
    failed = {f["node"]: f["kind"] for f in doc["unavailable"]}
    assert failed == {"rekeyed": "host-key-changed"}
    assert [n["node"] for n in doc["nodes"]] == ["unknown"]
    code, doc, _ = sweep(faults, "--known-hosts", str(known), "--nodes", "unknown")  # strict again: now known
    assert code == 0 and [n["node"] for n in doc["nodes"]] == ["unknown"]


def test_bad_inventory_and_ssh_config_are_usage_errors(faults, tmp_path):
    bad = tmp_path / "hosts.ini"
    bad.write_text("[workers\nok\n")
    proc = run("sweep", "--inventory", str(bad))
    assert proc.returncode == 2 and f"{bad}:1: unclosed section header" in proc.stderr
    proc = run("sweep", "--nodes", "ok", "--ssh-config", str(tmp_path / "missing_config"))
    assert proc.returncode == 2 and "missing_config" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_find_connects_only_to_the_node_the_name_points_to(faults):
    before = tarpit_settled(faults)
    proc = run("find", "static-greenbox-ok", "--inventory", str(faults / "inventory"),
               "--ssh-config", str(faults / "ssh_config"), "--timeout", TIMEOUT, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [c["node"] for c in doc["candidates"]] == ["ok"]
    assert doc["unavailable"] == []  # the tarpit and the dead node were never contacted
    assert doc["matches"][0]["manifest_path"] == "/etc/just-to-mess-with-you/greenbox.yaml"
    assert tarpit_settled(faults) == before + 1  # only our own: find never contacted it


def test_node_over_ssh_names_the_node_and_exits_3_when_unreachable(faults):
    proc = run("node", "down", "--ssh-config", str(faults / "ssh_config"), "--timeout", TIMEOUT)
    assert proc.returncode == 3
    assert proc.stderr.startswith("podaudit: down") and "Traceback" not in proc.stderr
    ok = run("node", "ok", "--ssh-config", str(faults / "ssh_config"), "-o", "json")
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["node"] == "ok" and doc["collection"]["transport"] == "ssh" and doc["collection"]["execs"] == 1


def test_ctrl_c_stops_cleanly_and_reports_what_finished(faults):
    """SIGINT while the tarpit holds a worker: the finished nodes are printed, the rest listed."""
    import signal

    argv = [*PODAUDIT, "sweep", "--inventory", str(faults / "inventory"), "--ssh-config",
            str(faults / "ssh_config"), "--timeout", "60", "-o", "json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # the quick nodes finish; the tarpit would hold its worker for 60 s
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 3, err
    doc = json.loads(out)
    assert doc["interrupted"] is True
    assert {"ok", "bignode", "oddnames"} <= {n["node"] for n in doc["nodes"]}
    assert {"tarpit": "interrupted"}.items() <= {f["node"]: f["kind"] for f in doc["unavailable"]}.items()
    assert "Traceback" not in err


def test_a_user_without_sudo_rights_is_told_what_to_allow(faults):
    code, doc, _ = sweep(faults, "--user", "nosudo", "--sudo", "--nodes", "ok")
    assert code == 3
    [failure] = doc["unavailable"]
    assert failure["kind"] == "sudo" and "nosudo ALL=(root) NOPASSWD" in failure["message"]


def test_an_unknown_host_alias_is_a_usage_error(faults):
    proc = run("node", "no-such-node.invalid", "--ssh-config", str(faults / "ssh_config"))
    assert proc.returncode == 2
    assert "no-such-node.invalid: not a Host in" in proc.stderr and len(proc.stderr.splitlines()) == 1
