"""Text from nodes never drives the reader's terminal: escape sequences (a title change, a
screen clear, an OSC 8 hyperlink), C1 controls, bidi overrides and zero-width characters in
node names, file names, YAML values, quarantine journals and snapshot folder names reach no
output raw, in any format or error line; rich markup in node text is shown as it is written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from podaudit.collect.bundle import pack

FIXTURE = Path(__file__).parent / "fixtures" / "nodes" / "kubeadm-etc"  # node worker-1
MANIFESTS = "etc/kubernetes/manifests"
# A window title, a screen clear, an OSC 8 hyperlink, rich markup, a bidi override, two C1
# controls (NEL, 8-bit CSI), a zero-width space and a bidi isolate.
HOSTILE = ("\x1b]0;title\x07\x1b[2J\x1b]8;;http://x\x1b\\[link=http://x]a[/link][bold red]b[/]"
           "\u202e\x85\x9b\u200b\u2066c")
FILE_NAME = HOSTILE.replace("/", "")  # a file name holds no slash
QUARANTINE_ID = "20250101T000000Z-good-worker-1-abcdef"
# A pod the kubelet runs (a label value must be a valid label: HOSTILE is not, so it goes in an
# annotation and the command, where any text is valid).
POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
  annotations: {{note: {value}}}
spec:
  containers:
  - name: c
    image: {image}
    command: [{value}]
"""


def leaks(text: str, allowed: str = "\n") -> list[str]:
    """Characters that act on a terminal or hide text: controls (C0, C1, DEL), format
    characters (bidi, zero-width), line separators, and bytes that are not UTF-8."""
    kinds = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    return sorted({f"U+{ord(c):04X}" for c in text if c not in allowed and unicodedata.category(c) in kinds})


def shows_markup(out: str) -> bool:
    """The markup of HOSTILE (or of FILE_NAME, its slashes gone) is in the output as text."""
    return "[link=http:" in out and "[bold red]b[" in out


def podaudit(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"}}
    return subprocess.run([sys.executable, "-m", "podaudit", *args], capture_output=True, timeout=120,
                          env={**env, "COLUMNS": "200"})


def inert(proc: subprocess.CompletedProcess[bytes], allowed: str = "\n") -> tuple[str, str]:
    """stdout and stderr as text, after checking neither carries a character that acts."""
    out, err = (stream.decode("utf-8", "surrogateescape") for stream in (proc.stdout, proc.stderr))
    assert leaks(out, allowed) == [], out
    assert leaks(err) == [], err
    assert "Traceback" not in err, err
    return out, err


def hostile_pod(name: str, image: str = "busybox:1.37") -> str:
    value = json.dumps(HOSTILE)
    return POD.format(name=json.dumps(name), value=value, image=json.dumps(image))


def _worker(root: Path) -> None:
    """worker-1 with a hostile manifest file name, YAML values and quarantine journal."""
    manifests = root / MANIFESTS
    (manifests / f"f{FILE_NAME}.yaml").write_text(hostile_pod("good", "img" + HOSTILE))
    (manifests / "bad.yaml").write_text(hostile_pod("p" + HOSTILE))
    folder = root / "var/lib/podaudit/quarantine" / QUARANTINE_ID
    (folder / "files").mkdir(parents=True)
    (folder / "files" / "1").write_text(hostile_pod("good"))
    (folder / "journal.json").write_text(json.dumps(journal()))


def journal() -> dict[str, Any]:
    return {"id": QUARANTINE_ID, "time": HOSTILE, "action": "delete", "node": "worker-1",
            "pod": {"namespace": "default", "name": "good", "mirror_name": HOSTILE},
            "files": [{"index": 1, "path": f"/{MANIFESTS}/{FILE_NAME}", "kind": "file", "sha256": HOSTILE,
                       "link": None, "mode": "0600", "uid": 0, "gid": 0, "size": 10},
                      {"index": HOSTILE, "path": HOSTILE}]}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nodes/worker-1 (hostile files) and nodes/<hostile> (a hostile folder and node name)."""
    snap = tmp_path_factory.mktemp("hostile") / "snapshot"
    worker = snap / "nodes" / "worker-1"
    shutil.copytree(FIXTURE, worker, symlinks=True)
    _worker(worker)
    named = snap / "nodes" / FILE_NAME
    shutil.copytree(FIXTURE, named, symlinks=True)
    (named / "proc/sys/kernel/hostname").write_text(f"w{HOSTILE}\n")
    return snap


def test_node_report_of_a_hostile_node_name(snapshot: Path) -> None:
    out, _ = inert(podaudit("--root", str(snapshot / "nodes" / FILE_NAME), "node"))
    assert shows_markup(out), out  # shown as written, not applied
    proc = podaudit("--root", str(snapshot / "nodes" / FILE_NAME), "node", "-o", "json")
    inert(proc)
    doc = json.loads(proc.stdout)
    # JSON keeps data exact (docs/json.md): the node name is the lowercased hostname.
    assert doc["hostname"] == f"w{HOSTILE}" and doc["node"] == f"w{HOSTILE}".lower()


def test_node_report_of_hostile_files_and_yaml(snapshot: Path) -> None:
    out, _ = inert(podaudit("--root", str(snapshot / "nodes" / "worker-1"), "node"))
    assert "[link=http:" in out, out  # (table cells fold: the rest of the markup may be cut in two)
    proc = podaudit("--root", str(snapshot / "nodes" / "worker-1"), "node", "-o", "json")
    doc = json.loads(proc.stdout)
    assert f"/{MANIFESTS}/f{FILE_NAME}.yaml" in {e["path"] for e in doc["entries"]}


@pytest.mark.parametrize("output", ["table", "markdown", "junit", "sarif", "json", "watch-paths", "html"])
def test_sweep_in_every_format(snapshot: Path, output: str) -> None:
    proc = podaudit("--snapshot", str(snapshot), "sweep", "-o", output)
    assert proc.returncode in (1, 3), proc.stderr
    out, _ = inert(proc, "\n\t" if output == "watch-paths" else "\n")
    if output == "junit":
        texts = [value for element in ET.fromstring(proc.stdout).iter()
                 for value in (*element.attrib.values(), element.text or "")]
        assert all(leaks(text) == [] for text in texts)
    elif output == "sarif":
        strings = _strings(json.loads(out))
        assert all(leaks(text) == [] for text in strings)
    elif output == "json":
        doc = json.loads(out)
        assert {n["node"] for n in doc["nodes"]} == {"worker-1", f"w{HOSTILE}".lower()}  # data: exact
        prose = [f["message"] for f in doc["findings"]] + doc["notes"] + [u["message"] for u in doc["unavailable"]]
        assert prose and all(leaks(text) == [] for text in prose)  # messages: for people


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [key, *_strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def test_a_hostile_snapshot_folder_in_an_error_line(snapshot: Path) -> None:
    proc = podaudit("--snapshot", str(snapshot), "node", "nope")
    _, err = inert(proc)
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("podaudit: error: no node nope") and shows_markup(err)


def test_a_hostile_snapshot_folder_named_on_the_command_line(snapshot: Path) -> None:
    out, _ = inert(podaudit("--snapshot", str(snapshot), "node", FILE_NAME))
    assert shows_markup(out), out


def test_find_shows_hostile_paths_and_queries_literally(snapshot: Path) -> None:
    root = str(snapshot / "nodes" / "worker-1")
    proc = podaudit("--root", root, "find", "good-worker-1")
    out, _ = inert(proc)
    assert proc.returncode == 0 and shows_markup(out), out
    out, _ = inert(podaudit("--root", root, "find", HOSTILE))
    assert shows_markup(out)


def test_quarantine_list_of_a_hostile_journal(snapshot: Path) -> None:
    root = str(snapshot / "nodes" / "worker-1")
    proc = podaudit("--root", root, "quarantine", "list")
    out, _ = inert(proc)
    assert proc.returncode == 0 and QUARANTINE_ID in out and shows_markup(out), out
    proc = podaudit("--root", root, "quarantine", "list", "-o", "json")
    inert(proc)
    [held] = json.loads(proc.stdout)["quarantines"]
    assert held["journal"] == journal()  # "as written on the node" (docs/json.md)


@pytest.mark.parametrize("command", [["delete", "good-worker-1"], ["restore", QUARANTINE_ID]])
def test_plans_of_hostile_files(snapshot: Path, command: list[str], tmp_path: Path) -> None:
    proc = podaudit("--root", str(snapshot / "nodes" / "worker-1"), *command)
    out, _ = inert(proc)
    assert shows_markup(out), out


def _bundle(tmp_path: Path, name: str, *folders: str) -> Path:
    """A bundle of copies of worker-1 in nodes/<folder>/, each saying it is node ``w<HOSTILE>``."""
    tree = tmp_path / f"{name}.tree"
    for folder in folders:
        shutil.copytree(FIXTURE, tree / "nodes" / folder, symlinks=True)
        (tree / "nodes" / folder / "proc/sys/kernel/hostname").write_text(f"w{HOSTILE}\n")
    path = tmp_path / f"{name}.tar.gz"
    path.write_bytes(pack(str(tree), "0.test", False))
    return path


def test_analyze_of_a_bundle_given_twice_with_a_hostile_folder(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "one", FILE_NAME)
    proc = podaudit("analyze", str(bundle), str(bundle))
    _, err = inert(proc)
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and "also in another bundle" in err, err


def test_analyze_of_nodes_reporting_one_hostile_node_name(tmp_path: Path) -> None:
    proc = podaudit("analyze", str(_bundle(tmp_path, "two", "a", "b")))
    _, err = inert(proc)
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("podaudit: error: several nodes report the node name w") and "[bold red]b[/]" in err


def test_backslashes_before_markup_are_shown_exactly(tmp_path: Path) -> None:
    """A name ending in backslashes, printed just before a style ends, keeps every one."""
    root = tmp_path / "node"
    shutil.copytree(FIXTURE, root, symlinks=True)
    (root / MANIFESTS / "b\\\\").write_text(hostile_pod("slash"))
    out, _ = inert(podaudit("--root", str(root), "find", "slash-worker-1"))
    assert f"on worker-1 by /{MANIFESTS}/b\\\\\n" in out, out


def test_the_console_is_the_boundary_for_what_a_renderer_forgets() -> None:
    """A report that forgets ``printable`` (a plain string, a table cell) still shows node
    text escaped and literal: the console reads no markup and escapes every segment."""
    import io

    from rich.table import Table

    from podaudit.report.console import SafeConsole

    out = io.StringIO()
    console = SafeConsole(file=out, width=300, force_terminal=False)
    console.print(f"node {HOSTILE} :smile:")
    table = Table()
    table.add_column("c")
    table.add_row(HOSTILE)
    console.print(table)
    text = out.getvalue()
    assert leaks(text) == [] and ":smile:" in text
    assert "[link=http://x]a[/link][bold red]b[/]" in text and "\\x1b]0;title\\x07" in text


def test_every_line_on_stderr_goes_through_notice() -> None:
    """The command modules write to stderr only through cli.notice, the one escaping path."""
    import ast

    import podaudit

    package = Path(podaudit.__file__).parent
    for module in sorted(package.glob("cli*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef) or function.name == "notice":
                continue
            for call in ast.walk(function):
                if isinstance(call, ast.Call) and any(k.arg == "err" for k in call.keywords):
                    pytest.fail(f"{module.name}:{call.lineno}: writes to stderr without cli.notice")


def test_what_the_witnesses_said_reaches_no_terminal_raw(tmp_path: Path) -> None:
    """A crash-looping container's last log lines, its reason and the runtime's endpoint come
    from the node (its runtime, its bundle): in the node report, find, the sweep's findings
    (PA111) and JSON they are escaped like every other node text."""
    from podaudit.collect.meta import witnesses_to_json
    from podaudit.model import (
        ContainerRun,
        KubeletWord,
        NodeWitnesses,
        RuntimeWord,
        Witness,
        WitnessedPod,
        WitnessSource,
        WitnessStatus,
    )

    root = tmp_path / "worker-1"
    shutil.copytree(FIXTURE, root, symlinks=True)
    crash = ContainerRun("nginx-proxy", "exited", "Error" + HOSTILE, 1, 7, ("ok", "fatal: " + HOSTILE))
    sandbox = WitnessedPod("kube-system", "nginx-proxy-worker-1", "a" * 32, "file", True, (crash,))
    said = NodeWitnesses(KubeletWord(Witness(WitnessSource.KUBELET, WitnessStatus.ABSENT, "https://127.0.0.1:10250",
                                             "nothing listening" + HOSTILE)),
                         RuntimeWord(Witness(WitnessSource.RUNTIME, WitnessStatus.HEARD, "crictl unix://" + HOSTILE),
                                     (sandbox,)))
    meta = json.loads((root / "podaudit.meta.json").read_text())
    meta["witnesses"] = witnesses_to_json(said)
    (root / "podaudit.meta.json").write_text(json.dumps(meta))
    out, _ = inert(podaudit("--root", str(root), "node"))
    assert "fatal: " in out and "7 restarts" in out, out
    proc = podaudit("--root", str(root), "node", "-o", "json")
    inert(proc)
    doc = json.loads(proc.stdout)
    runtime = next(w for w in doc["witnesses"] if w["source"] == "runtime")
    assert runtime["via"].startswith("crictl unix://") and leaks(runtime["via"]) == []
    [pod] = doc["static_pods"]
    assert pod["containers"][0]["log_tail"][-1].startswith("fatal: ")
    out, _ = inert(podaudit("--root", str(root), "sweep"))
    assert "PA111" in out, out
