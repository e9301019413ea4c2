"""The HTML report (podaudit/report/html.py), loaded in a real headless browser.

Debian's chromium opens each report from a file (``--dump-dom`` gives the DOM after the
report's script ran, ``--screenshot`` what a person sees), each run with a profile of its own
under tmp_path, so nothing is cached between runs and nothing of the host's is read. The sweeps
are real: the bundled demo read as ``podaudit --demo sweep`` reads it, fixture node trees, and
a copy of one with a hostile file name, audited by the real rules.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import quote

import pytest

from podaudit.audit.baseline import parse_baseline
from podaudit.audit.docs import rule_page
from podaudit.audit.engine import AuditResult, audit
from podaudit.audit.registry import RULES, Finding, finding
from podaudit.audit.suppressions import Suppression
from podaudit.collect.source import NodeResult, SweepResult
from podaudit.model import FailureKind, NodeFailure
from podaudit.report.escape import printable
from podaudit.report.html import render_html, script_json
from podaudit.report.markdown import report_order
from tests.browser import Dom, chromium, needs_chromium, png_pixels
from tests.test_formats import NODES, view_of

WHEN = datetime(2026, 12, 7, 14, 30, tzinfo=timezone.utc)
# A name that closes the script element, opens an element with a handler, flips the text's
# direction (U+202E), and carries an escape sequence and a bell.
HOSTILE = "</script><img src=x onerror=alert(1)>\u202egnp.exe\x1b[31m\x07 &lt;b&gt;"
HOSTILE_FILE = "<img src=x onerror=alert(2)>\u202e\x01.yaml"


# --- the browser --------------------------------------------------------------------------

def dump(tmp_path: Path, report: Path, suffix: str = "") -> Dom:
    """The DOM after the report's script ran, opened at ``report`` + ``suffix`` (#fragment, ?query)."""
    return Dom(chromium(tmp_path, report.as_uri() + suffix, "--dump-dom"))


def write(tmp_path: Path, html: str, name: str = "report.html") -> Path:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path


# --- the sweeps ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo() -> tuple[SweepResult, AuditResult]:
    """The bundled demo, read and audited as ``podaudit --demo sweep`` does."""
    from podaudit.run.audit import audit_cluster
    from podaudit.run.select import Selection, select_cluster

    selection = Selection(demo=True)
    return audit_cluster(selection, select_cluster(selection, want_api=True), None, lambda: None)


BASELINE = """apiVersion: podaudit/v1
kind: Baseline
suppress:
  - {id: PA404, node: cp-1, reason: "vendor ships 0644 | see OPS-7", expires: 2099-01-31}
"""


@pytest.fixture(scope="module")
def fleet() -> tuple[SweepResult, AuditResult]:
    """Fixture trees with findings of four severities, one node that could not be read, and
    the baseline suppressing one rule on one node."""
    failure = NodeFailure("worker-9", FailureKind.UNREACHABLE, "worker-9: ssh: connect to 10.0.0.9 port 22: refused")
    sweep = SweepResult([*(NodeResult.read(name, view_of(name)) for name in ("kubeadm-usrlib", "messy-dir", "rke2",
                                                                            "kubelet-stopped")),
                         NodeResult.failed(failure)])
    return sweep, audit(sweep, parse_baseline(BASELINE, "baseline.yaml"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[SweepResult, AuditResult]:
    """A node by a hostile name whose manifest directory holds a hostile file name, an
    unreachable node by another, and findings, a suppression and a note saying hostile things."""
    root = tmp_path_factory.mktemp("hostile") / "node"
    shutil.copytree(NODES / "kubeadm-etc", root, symlinks=True)
    manifests = root / "etc/kubernetes/manifests"
    shutil.copy(manifests / "nginx-proxy.yml", manifests / HOSTILE_FILE)
    (manifests / "nginx-proxy.yml").unlink()
    view = view_of("kubeadm-etc", root)
    failed = NodeFailure("x" + HOSTILE, FailureKind.AUTH, f"x{HOSTILE}: auth refused: {HOSTILE}")
    sweep = SweepResult([NodeResult(HOSTILE, view, None, 0.1, "hostile"), NodeResult.failed(failed)])
    result = audit(sweep)
    result.findings.append(finding("PA404", HOSTILE, f"/etc/{HOSTILE}", f"{HOSTILE} says {HOSTILE}"))
    accepted = Suppression("PA404", "*", None, f"accepted: {HOSTILE}", date(2099, 1, 31))
    result.suppressed.append((finding("PA404", HOSTILE, "/etc/ok", "accepted"), accepted))
    result.notes.append(f"note: {HOSTILE}")
    return sweep, result


# --- what a user sees ---------------------------------------------------------------------

@needs_chromium
def test_demo_report_shows_the_path_how_it_was_decided_and_the_pods(
        tmp_path: Path, demo: tuple[SweepResult, AuditResult]) -> None:
    sweep, found = demo
    dom = dump(tmp_path, write(tmp_path, render_html(sweep, found, "9.8.7", generated=WHEN)))
    text = dom.all_text()
    assert "podaudit 9.8.7" in text and "2026-12-07 14:30:00 UTC" in text
    # The node table: node01's path, each step that decided it, and its static pod's state.
    assert set(dom.node_rows) == {"controlplane", "node01"}
    node01 = dom.node_rows["node01"]
    assert node01[:3] == ["node01", "worker", "/etc/just-to-mess-with-you"]
    # the chain as `podaudit node` prints it: each step, then where it was read
    steps = node01[node01.index("decided by: config") + 1:]
    assert steps[:6] == ["kubelet process pid 1042: /usr/bin/kubelet (kubelet)", "/proc/1042/cmdline",
                         "argv[3] --config=/var/lib/kubelet/config.yaml (in /proc/1042/cmdline), set by "
                         "$KUBELET_CONFIG_ARGS", "/lib/systemd/system/kubelet.service.d/10-kubeadm.conf:4",
                         "staticPodPath: /etc/just-to-mess-with-you (--config file)", "/var/lib/kubelet/config.yaml:45"]
    assert steps[6:9] == ["running", " default/static-greenbox-node01", "/etc/just-to-mess-with-you/greenbox.yaml"]
    # The summary counts, per severity and per node, agree with the audit.
    by_severity = Counter(f.severity for f in found.findings)
    assert f"{by_severity['medium']}medium" in text.replace(" ", "")
    assert f"{len(found.findings)} of {len(found.findings)} findings shown" in text
    assert "node01workeraudited" in text.replace(" ", "")


@needs_chromium
def test_filters_in_the_fragment_or_query_choose_the_visible_findings(
        tmp_path: Path, fleet: tuple[SweepResult, AuditResult]) -> None:
    sweep, found = fleet
    report = write(tmp_path, render_html(sweep, found, "1", generated=WHEN))
    # The report's order: most severe first, as the Markdown report (report_order).
    rows = sorted([(f, False) for f in found.findings] + [(f, True) for f, _ in found.suppressed],
                  key=lambda r: (*report_order(r[0]), r[1]))
    cases: dict[str, Callable[[Finding, bool], bool]] = {
        "#severity=high": lambda f, s: f.severity == "high",
        "#severity=low&severity=info&node=rke2-server-1": lambda f, s: f.severity in ("low", "info")
        and f.node == "rke2-server-1",
        "?rule=PA404&status=suppressed": lambda f, s: f.id == "PA404" and s,
        "#node=worker-9": lambda f, s: f.node == "worker-9",
    }
    for suffix, wanted in cases.items():
        dom = dump(tmp_path, report, suffix)
        expected = [i for i, (f, s) in enumerate(rows) if wanted(f, s)]
        assert expected, suffix
        assert dom.visible == expected, suffix
        for i in expected:  # the rows shown are the ones the filter names, by their text
            assert rows[i][0].id in dom.row_text(i) and rows[i][0].node in dom.row_text(i)
        assert f"{len(expected)} of {len(rows)} findings shown" in dom.all_text()
        assert "hidden" not in dom.by_id("filters")


@needs_chromium
def test_without_javascript_every_finding_shows(tmp_path: Path, fleet: tuple[SweepResult, AuditResult]) -> None:
    """A viewer that runs no script (here: the page's policy turned to script-src 'none'):
    the filter in the URL does nothing, the filter form stays hidden, every row shows."""
    sweep, found = fleet
    html = render_html(sweep, found, "1", generated=WHEN)
    blocked, count = re.subn(r"script-src &#x27;sha256-[A-Za-z0-9+/=]+&#x27;", "script-src &#x27;none&#x27;", html)
    assert count == 1
    dom = dump(tmp_path, write(tmp_path, blocked), "#severity=high")
    assert len(dom.visible) == len(found.findings) + len(found.suppressed)
    assert "hidden" in dom.by_id("filters")


@needs_chromium
def test_suppressed_findings_show_as_such(tmp_path: Path, fleet: tuple[SweepResult, AuditResult]) -> None:
    sweep, found = fleet
    assert found.suppressed and all(f.node == "cp-1" for f, _ in found.suppressed)
    dom = dump(tmp_path, write(tmp_path, render_html(sweep, found, "1", generated=WHEN)))
    marked = [attrs for tag, attrs in dom.elements if tag == "tr" and "suppressed" in (attrs.get("class") or "")]
    assert len(marked) == len(found.suppressed)
    texts = [dom.row_text(int(attrs["data-row"] or "")) for attrs in marked]
    assert all("suppressed: vendor ships 0644 | see OPS-7 (until 2099-01-31)" in t for t in texts)
    assert f"{len(found.suppressed)} more suppressed by the baseline" in dom.all_text()


@needs_chromium
def test_each_finding_links_to_its_rules_page_in_the_file(
        tmp_path: Path, demo: tuple[SweepResult, AuditResult]) -> None:
    sweep, found = demo
    dom = dump(tmp_path, write(tmp_path, render_html(sweep, found, "1", generated=WHEN)))
    ids = {attrs["id"] for _, attrs in dom.elements if attrs.get("id")}
    links = [attrs["href"] or "" for tag, attrs in dom.elements if tag == "a"]
    assert links and all(link.startswith("#") and link[1:] in ids for link in links)
    assert {f"#rule-{f.id}" for f in found.findings} <= set(links)
    text = dom.all_text()
    for rule_id in {f.id for f in found.findings}:
        assert rule_page(RULES[rule_id]) in text


# --- hostile nodes ------------------------------------------------------------------------

@needs_chromium
def test_hostile_names_inject_no_element_or_attribute(
        tmp_path: Path, hostile: tuple[SweepResult, AuditResult]) -> None:
    sweep, found = hostile
    html = render_html(sweep, found, "1", generated=WHEN)
    dom = dump(tmp_path, write(tmp_path, html))
    assert sweep.audited[0][1].static_pods[0].manifest_path.endswith(HOSTILE_FILE)  # the node table shows it
    tags = Counter(tag for tag, _ in dom.elements)
    assert "img" not in tags and tags["script"] == 2
    assert not [name for _, attrs in dom.elements for name in attrs if name.startswith("on")]
    assert not [attrs for _, attrs in dom.elements if "src" in attrs]
    text = dom.all_text()
    # Shown as text, exactly as the other formats show it: controls and the bidi override as escapes.
    assert printable(HOSTILE) in text and printable(HOSTILE_FILE) in text
    assert "\u202e" not in text and "\x1b" not in text and "\x07" not in text and "\x01" not in text
    assert text.count("&lt;b&gt;") >= 4  # entities in a name stay the characters they are
    # The static file parses to the same elements: nothing depends on the script to be safe.
    assert Counter(tag for tag, _ in Dom(html).elements)["img"] == 0


@needs_chromium
def test_filter_by_a_hostile_node_name(tmp_path: Path, hostile: tuple[SweepResult, AuditResult]) -> None:
    """The name travels through the JSON block and the URL and still picks its own rows."""
    sweep, found = hostile
    dom = dump(tmp_path, write(tmp_path, render_html(sweep, found, "1", generated=WHEN)),
               "#node=" + quote(printable(HOSTILE), safe=""))
    mine = [i for i, chunks in dom.rows.items() if printable(HOSTILE) in chunks]  # the node cell, exactly
    assert mine and len(mine) == sum(f.node == HOSTILE for f in [*found.findings, *(f for f, _ in found.suppressed)])
    assert dom.visible == mine and len(mine) < len(dom.rows)


def test_script_json_cannot_close_its_element() -> None:
    text = script_json({"name": HOSTILE + "<!--&\u2028"})
    assert not set(text) & {"<", ">", "&", "\u2028"} and text.isascii()
    assert json.loads(text) == {"name": HOSTILE + "<!--&\u2028"}


# --- self-contained -----------------------------------------------------------------------

class Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 (one list for the server's handlers)

    def do_GET(self) -> None:
        Counting.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """A loopback HTTP server that counts what asks it for anything."""
    Counting.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@needs_chromium
def test_the_page_loads_nothing_even_with_markup_injected(
        tmp_path: Path, server: str, fleet: tuple[SweepResult, AuditResult]) -> None:
    """Were escaping ever to fail, the policy would still forbid every load and any other
    script. The same markup in a page without the policy reaches the server: the browser
    could have."""
    injected = (f'<img src="{server}/img"><link rel="stylesheet" href="{server}/css">'
                f'<script src="{server}/js"></script><script>document.title = "pwned"</script>'
                f'<iframe src="{server}/frame"></iframe>')
    html = render_html(*fleet, "1", generated=WHEN).replace("</main>", injected + "</main>")
    dom = dump(tmp_path, write(tmp_path, html))
    assert Counting.hits == []
    assert "hidden" not in dom.by_id("filters")  # the report's own script ran
    assert dom.title == "podaudit sweep"
    dump(tmp_path, write(tmp_path, f"<html><body>{injected}</body></html>", "control.html"))
    assert "/img" in Counting.hits


def test_the_file_names_no_other_resource(fleet: tuple[SweepResult, AuditResult]) -> None:
    html = render_html(*fleet, "1", generated=WHEN)
    dom = Dom(html)
    policy = next(attrs["content"] or "" for tag, attrs in dom.elements
                  if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy")
    assert policy.startswith("default-src 'none'; ") and "base-uri 'none'" in policy
    assert not [attrs for _, attrs in dom.elements if {"src", "srcset", "action"} & set(attrs)]
    assert all((attrs.get("href") or "#").startswith("#") for _, attrs in dom.elements)
    style = re.findall(r"<style>(.*?)</style>", html, re.S)
    script = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(style) == len(script) == 1
    assert not re.search(r"https?:|url\(|@import|fetch\(|XMLHttpRequest|WebSocket", style[0] + script[0])


# --- a screenshot -------------------------------------------------------------------------

@needs_chromium
def test_screenshot_is_the_styled_report_not_a_blank_page(
        tmp_path: Path, fleet: tuple[SweepResult, AuditResult]) -> None:
    report = write(tmp_path, render_html(*fleet, "1", generated=WHEN))
    shot = tmp_path / "shot.png"
    chromium(tmp_path, report.as_uri(), f"--screenshot={shot}", "--window-size=800,700", "--hide-scrollbars")
    pixels = Counter(row[x:x + 3] for row in png_pixels(shot.read_bytes()) for x in range(0, len(row), 3))
    assert len(pixels) > 50, "too few colours: a blank or unstyled page"
    assert pixels.most_common(1)[0][1] < 0.9 * sum(pixels.values())
    # The style applied (its hash in the policy is right): the header's and the critical card's colours.
    assert pixels[bytes((0x1D, 0x2D, 0x50))] > 1000 and pixels[bytes((0x8B, 0x0A, 0x1A))] > 100
