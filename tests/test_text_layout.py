"""The table and text reports at 80 columns: a path is never cut inside a name, and the sweep's
footer counts the findings shown.

rich cuts a word longer than its column at any character (``rich/_wrap.py`` ``divide_line``
folds it with ``chop_cells``): ``/etc/kubernetes/manifest`` | ``s (config)``. The reports lay
node text out with ``report/fold.py`` instead. Every check renders real sweeps: the bundled
demo, the node trees of tests/fixtures/nodes, and a node whose static pod path is 120
characters of hostile names.
"""

from __future__ import annotations

import io
import re
import shutil
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
from rich.table import Table
from rich.text import Text

from podaudit.audit.engine import AuditResult
from podaudit.audit.shown import parse_severities, shown
from podaudit.audit.suppressions import Suppression
from podaudit.collect.source import SweepResult
from podaudit.report.console import SafeConsole
from podaudit.report.escape import printable
from podaudit.report.fold import Folded, breaks
from podaudit.report.text import render_find, render_node, render_sweep
from podaudit.run.audit import audit_cluster
from podaudit.run.find import find_pod
from podaudit.run.select import Selection, select_cluster

NODES = Path(__file__).parent / "fixtures" / "nodes"
# Each name unique, none longer than a narrow column: an emoji code, a command substitution,
# wide characters, an escape sequence that retitles a window (shown as \x1b), an option.
# No glob character: the kubelet reads the path as a Go glob, and "[" would make it list nothing.
NAMES = ["srv", "d01-静的ポッド", "d02-$(reboot)", "d03-:smile:x", "d04-\x1b]0;t\x07", "d05--config=x",
         "d06-a|b`c", "d07-manifests.d", "d08-kubelet", "d09-pods", "d10-xy"]
LONG = "/" + "/".join(NAMES)
BOX = re.compile(r"[│┃]")
COMMANDS = ("  podaudit delete ", "  ssh -- ", "  sudo ", "  kubectl ")


def rendered(draw: object, width: int = 80) -> str:
    out = io.StringIO()
    draw(SafeConsole(file=out, width=width, force_terminal=False))  # type: ignore[operator]
    return out.getvalue()


def path_words(wide: str) -> set[str]:
    """Every path the report prints, read where nothing wraps: words holding a ``/``."""
    return {w.strip("(),:;'\"") for w in wide.split() if "/" in w} - {""}


def cut_inside_a_name(narrow: str, paths: set[str]) -> list[str]:
    """Lines (or table cells) that end inside a path's name: the last word is a piece of a
    known path that neither ends at a ``/`` nor ends the path."""
    cuts = []
    for line in narrow.splitlines():
        for cell in BOX.split(line):
            words = cell.split()
            last = words[-1].strip("(),:;'\"") if words else ""
            if "/" not in last or last.endswith("/") or last in paths:
                continue
            for path in paths:
                at = path.find(last)
                if at >= 0 and at + len(last) < len(path) and path[at + len(last)] != "/":
                    cuts.append(f"{line!r} cuts {path!r}")
    return cuts


def check_paths(draw: object) -> str:
    """Render at 80 columns and at 1000; no path of the wide report is cut inside a name in
    the narrow one, and no line is wider than 80 but a command (printed whole: it must paste
    as one line). The narrow text, for more checks."""
    narrow = rendered(draw)
    assert cut_inside_a_name(narrow, path_words(rendered(draw, 1000))) == []
    assert [line for line in narrow.splitlines() if len(line) > 80 and not line.startswith(COMMANDS)] == []
    return narrow


def footer_counts(text: str) -> Counter[str]:
    [line] = [line for line in text.splitlines() if line.startswith("Findings: ")]
    return Counter({word: int(n) for n, word in re.findall(r"(\d+) (\w+)", line)})


def expected_counts(audit: AuditResult) -> Counter[str]:
    counts: Counter[str] = Counter(f.severity for f in audit.findings)
    counts["suppressed"] = len(audit.suppressed)
    return +counts


def sweep_of(sel: Selection) -> tuple[SweepResult, AuditResult]:
    return audit_cluster(sel, select_cluster(sel, want_api=True), None, lambda: None)


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubeadm-etc with its staticPodPath moved to LONG (its manifest with it)."""
    root = tmp_path_factory.mktemp("hostile") / "node"
    shutil.copytree(NODES / "kubeadm-etc", root, symlinks=True)
    config = root / "var/lib/kubelet/config.yaml"
    quoted = LONG.replace("\\", "\\\\").replace('"', '\\"').replace("\x1b", "\\e").replace("\x07", "\\a")
    config.write_text(config.read_text().replace("staticPodPath: /etc/kubernetes/manifests",
                                                 f'staticPodPath: "{quoted}"'))
    (root / LONG[1:]).mkdir(parents=True)
    shutil.move(root / "etc/kubernetes/manifests/nginx-proxy.yml", root / LONG[1:] / "nginx-proxy.yml")
    return root


def test_the_check_sees_the_cut_rich_makes_by_itself() -> None:
    """Without report/fold.py, rich cuts the demo's path inside a name at 80 columns."""
    def draw(console: SafeConsole) -> None:
        table = Table()
        for column in ("nodes", "static pod path (source)", "static pods", "problems"):
            table.add_column(column, overflow="fold")
        table.add_row("controlplane", "/etc/kubernetes/manifests (config)", "kube-controller-manager", "-")
        console.print(table)

    cuts = cut_inside_a_name(rendered(draw), {"/etc/kubernetes/manifests"})
    assert cuts and "/etc/kubernetes/manifest" in cuts[0]


def test_the_hostile_path_is_120_characters_of_names_none_cut(hostile_root: Path) -> None:
    sel = Selection(root=str(hostile_root))
    result, audit = sweep_of(sel)
    [(_, view)] = result.audited
    assert view.static_pod_path.value == LONG and len(LONG) == 120
    shown_path = printable(LONG)
    for draw in (lambda c: render_sweep(c, result, audit), lambda c: render_node(c, "worker-1", view),
                 lambda c: render_find(c, find_pod("nginx-proxy-worker-1", None, select_cluster(sel)))):
        narrow = check_paths(draw)
        # Each name whole on one line, followed by its "/" there (the cut is after the slash).
        for name in (printable(n) for n in NAMES):
            assert narrow.count(name) >= 1 and narrow.count(name) == narrow.count(name[:5]), (name, narrow)
            if name != printable(NAMES[-1]):
                assert narrow.count(name) == narrow.count(name + "/"), (name, narrow)
        # 120 characters: it had to fold, but in a command (printed whole, to paste as one line).
        assert [line for line in narrow.splitlines() if shown_path in line and not line.startswith(COMMANDS)] == []
        assert "\x1b" not in narrow and "\\x1b]0;t\\x07" in narrow


def test_the_demo_sweep_at_80_columns_with_its_footer() -> None:
    result, audit = sweep_of(Selection(demo=True))
    narrow = check_paths(lambda c: render_sweep(c, result, audit))
    assert footer_counts(narrow) == expected_counts(audit) == Counter({"medium": 11})
    assert "Findings: 11 medium" in narrow
    # A path that fits its column stays whole on its line: copying it gives the path.
    assert "│ /etc/default/kubelet has " in narrow


def test_the_demo_find_and_node_at_80_columns() -> None:
    sel = Selection(demo=True)
    find = check_paths(lambda c: render_find(c, find_pod("static-greenbox-node01", None, select_cluster(sel, None,
                                                                                                       True))))
    assert "\n/etc/just-to-mess-with-you/greenbox.yaml\n" in find  # moved whole to its own line
    assert "Manifest      /etc/just-to-mess-with-you/greenbox.yaml\n" in find
    result, _ = sweep_of(sel)
    views = dict(result.audited)
    node = check_paths(lambda c: render_node(c, "node01", views["node01"]))
    assert "     /lib/systemd/system/kubelet.service.d/10-kubeadm.conf:4\n" in node


@pytest.mark.parametrize("name", sorted(p.name for p in NODES.iterdir()))
def test_every_fixture_node_at_80_columns(name: str) -> None:
    result, audit = sweep_of(Selection(root=str(NODES / name)))
    sweep = check_paths(lambda c: render_sweep(c, result, audit))
    assert footer_counts(sweep) == expected_counts(audit)
    for node, view in result.audited:
        check_paths(partial(render_node, node=node, view=view))


def test_the_footer_counts_what_is_shown_and_the_suppressed() -> None:
    """The findings of messy-dir (several severities), filtered and with a suppressed one."""
    result, audit = sweep_of(Selection(root=str(NODES / "messy-dir")))
    hidden = audit.findings.pop()
    audit.suppressed = [(hidden, Suppression(hidden.id, "*", None, "kept", None))]
    assert len({f.severity for f in audit.findings}) > 1
    for filtered in (audit, shown(audit, parse_severities("high+"), frozenset(), frozenset())):
        text = rendered(partial(render_sweep, result=result, audit=filtered))
        assert footer_counts(text) == expected_counts(filtered)
    nothing = shown(audit, parse_severities("info"), frozenset(), frozenset({"PA1*"}))
    assert "Findings: none" in rendered(lambda c: render_sweep(c, result, AuditResult(contexts=nothing.contexts)))


@pytest.mark.parametrize(("line", "width", "lines"), [
    ("kubelet config file /var/lib/kubelet/config.yaml has mode 0644", 27,
     ["kubelet config file ", "/var/lib/kubelet/", "config.yaml has mode 0644"]),
    ("/etc/just-to-mess-with-you (config)", 26, ["/etc/just-to-mess-with-you ", "(config)"]),
    ("a /etc/kubernetes/manifests", 12, ["a ", "/etc/", "kubernetes/", "manifests"]),
    ("/x/a-name-longer-than-ten", 10, ["/x/", "a-name-lon", "ger-than-t", "en"]),  # no "/" to cut at
    ("静的ポッド/静的", 6, ["静的ポ", "ッド/", "静的"]),  # cells, not characters
])
def test_breaks(line: str, width: int, lines: list[str]) -> None:
    cuts = breaks(line, width)
    assert [line[a:b] for a, b in zip([0, *cuts], [*cuts, len(line)], strict=True)] == lines


def test_a_copied_path_is_the_path() -> None:
    """No character is added where a path folds (no zero-width space): the pieces joined are
    the path, and a path that fits is printed as it is."""
    path = "/var/lib/kubelet/pods/0123456789abcdef/volumes/kubernetes.io~secret/token"
    text = rendered(lambda c: c.print(Folded(Text(path), lead="Manifest  ")), 40)
    assert "".join(line.removeprefix("Manifest  ").strip() for line in text.splitlines()) == path
    assert rendered(lambda c: c.print(Folded(Text(path))), 100) == path + "\n"
