"""Class 5 of the kubelet agreement corpus: the static pod path as the file source reads it.

pkg/kubelet/config/file.go (master, contextual-logging copy; lines +-1): NewSourceFile L62-69
trims trailing "/", listConfig L120-155 os.Stat()s the path (the kernel follows links, then
".."), extractFromDir L160-196 lists filepath.Glob(filepath.Join(path, "[^.]*")) (Join cleans
".." lexically; Glob treats * ? [ \\ as pattern characters), sorts, and os.Stat()s each entry.
Each row is a real tree on disk (real links, folders, FIFOs) read as podaudit reads a node's
root; ``want`` is the set of manifests that load, by path relative to the root.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from podaudit.collect.local import LocalNode
from podaudit.kubelet.manifests import read_static_pod_path
from tests.corpus import Case, cases

FILE_GO = "pkg/kubelet/config/file.go"
NEW_SOURCE = f"{FILE_GO} NewSourceFile L62-69"
LIST = f"{FILE_GO} listConfig L120-155"
EXTRACT = f"{FILE_GO} extractFromDir L160-196"
GLOB = "go src/path/filepath/match.go#Glob, #globWithLimit, #glob (go1.22)"
MATCH = "go src/path/filepath/match.go#Match, #matchChunk, #getEsc (go1.22)"
CLEAN = "go src/path/filepath/path.go#Clean, #Join (go1.22)"


def pod(name: str) -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: kube-system\n"
            f"spec:\n  containers:\n  - name: c\n    image: registry.k8s.io/pause:3.9\n")


def put(root: Path, rel: str, text: str) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def link(root: Path, rel: str, target: str) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def kubeadm(root: Path) -> None:
    put(root, "/etc/kubernetes/manifests/etcd.yaml", pod("etcd"))


def link_dotdot(root: Path) -> None:
    """/etc/k/link -> /srv/x/y: link/../m is /srv/x/m to the kernel, /etc/k/m to Join."""
    link(root, "/etc/k/link", "/srv/x/y")
    (root / "srv/x/y").mkdir(parents=True)


def physical_only(root: Path) -> None:
    link_dotdot(root)
    put(root, "/srv/x/m/a.yaml", pod("physical"))


def both(root: Path) -> None:
    physical_only(root)
    put(root, "/etc/k/m/b.yaml", pod("lexical"))


def lexical_only(root: Path) -> None:
    link_dotdot(root)
    put(root, "/etc/k/m/b.yaml", pod("lexical"))


def star_folders(root: Path) -> None:
    put(root, "/etc/k/manifests*/a.yaml", pod("literal"))
    put(root, "/etc/k/manifests/b.yaml", pod("plain"))
    put(root, "/etc/k/manifests.bak/c.yaml", pod("backup"))
    put(root, "/etc/k/other/d.yaml", pod("other"))


def bracket_folders(root: Path) -> None:
    put(root, "/etc/k/ma[n]ifests/a.yaml", pod("literal"))
    put(root, "/etc/k/manifests/b.yaml", pod("plain"))


def unclosed(root: Path) -> None:
    put(root, "/etc/k/man[ifests/a.yaml", pod("literal"))


def backslash(root: Path) -> None:
    put(root, "/etc/k/a\\b/a.yaml", pod("literal"))
    put(root, "/etc/k/ab/b.yaml", pod("unescaped"))


def question(root: Path) -> None:
    put(root, "/etc/k/m?/a.yaml", pod("literal"))
    put(root, "/etc/k/m1/b.yaml", pod("one"))


def entries(root: Path) -> None:
    put(root, "/m/10-a.yaml", pod("a"))
    put(root, "/m/9-b.yaml", pod("b"))
    put(root, "/m/.kube-apiserver.yaml.swp", pod("swap"))
    put(root, "/m/etcd.yaml~", pod("tilde"))
    put(root, "/m/README", pod("readme"))
    put(root, "/m/old/c.yaml", pod("nested"))
    link(root, "/m/linked.yaml", "/srv/real.yaml")
    put(root, "/srv/real.yaml", pod("linked"))
    link(root, "/m/dangling.yaml", "/srv/none.yaml")
    os.mkfifo(root / "m/fifo.yaml")


def shadowed(root: Path) -> None:
    put(root, "/m/Z.yaml", pod("same"))
    put(root, "/m/a.yaml", pod("same"))


def single_file(root: Path) -> None:
    put(root, "/etc/k/.hidden.yaml", pod("hidden"))


def file_link(root: Path) -> None:
    put(root, "/srv/pod.yaml", pod("target"))
    link(root, "/etc/k/pod.yaml", "/srv/pod.yaml")


def fifo(root: Path) -> None:
    (root / "etc/k").mkdir(parents=True)
    os.mkfifo(root / "etc/k/pipe")


Tree = Callable[[Path], None]
ROWS = [
    Case("trailing-slash-trimmed", f"{NEW_SOURCE}; {EXTRACT}", (kubeadm, "/etc/kubernetes/manifests/"),
         {"/etc/kubernetes/manifests/etcd.yaml"}),
    Case("root-slash-is-empty-and-missing", f"{NEW_SOURCE} (TrimRight '/' gives ''); {LIST} (os.Stat('') fails)",
         (kubeadm, "/"), set()),
    Case("dot-and-double-slash-cleaned", f"{EXTRACT}; {CLEAN}", (kubeadm, "/etc/kubernetes/./manifests//"),
         {"/etc/kubernetes/manifests/etcd.yaml"}),
    Case("dotdot-after-link-lists-the-lexical-folder", f"{LIST} (os.Stat physical); {EXTRACT}; {CLEAN}",
         (both, "/etc/k/link/../m"), {"/etc/k/m/b.yaml"}),
    Case("dotdot-after-link-lexical-folder-missing", f"{LIST}; {EXTRACT}; {GLOB} (a missing folder is no error)",
         (physical_only, "/etc/k/link/../m"), set()),
    Case("dotdot-after-link-physical-folder-missing", f"{LIST} L122-129 (path does not exist, ignoring)",
         (lexical_only, "/etc/k/link/../m"), set()),
    Case("star-in-folder-name-globs-siblings", f"{EXTRACT}; {GLOB}; {MATCH}", (star_folders, "/etc/k/manifests*"),
         {"/etc/k/manifests*/a.yaml", "/etc/k/manifests/b.yaml", "/etc/k/manifests.bak/c.yaml"}),
    Case("question-mark-in-folder-name", f"{EXTRACT}; {GLOB}; {MATCH}", (question, "/etc/k/m?"),
         {"/etc/k/m?/a.yaml", "/etc/k/m1/b.yaml"}),
    Case("brackets-match-the-plain-folder-only", f"{EXTRACT}; {MATCH}", (bracket_folders, "/etc/k/ma[n]ifests"),
         {"/etc/k/manifests/b.yaml"}),
    Case("unclosed-bracket-lists-nothing", f"{EXTRACT} L161-164 (glob failed); {MATCH} (ErrBadPattern)",
         (unclosed, "/etc/k/man[ifests"), set()),
    Case("backslash-escapes", f"{EXTRACT}; {MATCH} (Unix: '\\\\' escapes the next character)",
         (backslash, "/etc/k/a\\b"), {"/etc/k/ab/b.yaml"}),
    Case("entries-any-extension-no-dot-no-recursion", f"{EXTRACT} L165-196 (sort.Strings, os.Stat each entry)",
         (entries, "/m"), {"/m/10-a.yaml", "/m/9-b.yaml", "/m/etcd.yaml~", "/m/README", "/m/linked.yaml"}),
    Case("last-in-byte-order-wins-a-name", f"{EXTRACT} sort.Strings; {FILE_GO} replaceStore "
         "(client-go tools/cache#Replace: the last item of a key wins)", (shadowed, "/m"), {"/m/a.yaml"}),
    Case("a-regular-file-path-is-the-manifest", f"{LIST} L145-150 (no glob, no dot filter)",
         (single_file, "/etc/k/.hidden.yaml"), {"/etc/k/.hidden.yaml"}),
    Case("a-link-to-a-file-is-the-manifest", f"{LIST} L122, L145-150 (os.Stat follows the link)",
         (file_link, "/etc/k/pod.yaml"), {"/etc/k/pod.yaml"}),
    Case("a-fifo-is-neither", f"{LIST} L152-153 (path is not a directory or file)", (fifo, "/etc/k/pipe"), set()),
]


@cases(ROWS)
def test_the_file_source_lists_what_upstream_lists(case: Case, tmp_path: Path) -> None:
    tree, path = case.given
    tree(tmp_path)
    found, _ = read_static_pod_path(LocalNode(str(tmp_path)), path, "cp-1")
    assert {e.path for e in found if e.fate == "loaded"} == case.want


def test_a_dotdot_after_a_link_is_explained(tmp_path: Path) -> None:
    both(tmp_path)
    _, problem = read_static_pod_path(LocalNode(str(tmp_path)), "/etc/k/link/../m", "cp-1")
    assert problem is not None and "the kubelet lists /etc/k/m" in problem.text() and "/srv/x/m" in problem.text()


def test_glob_characters_name_every_folder_listed(tmp_path: Path) -> None:
    star_folders(tmp_path)
    _, problem = read_static_pod_path(LocalNode(str(tmp_path)), "/etc/k/manifests*", "cp-1")
    assert problem is not None
    assert "/etc/k/manifests.bak" in problem.text() and "/etc/k/other" not in problem.text()


def test_a_pattern_go_cannot_parse_says_so(tmp_path: Path) -> None:
    unclosed(tmp_path)
    _, problem = read_static_pod_path(LocalNode(str(tmp_path)), "/etc/k/man[ifests", "cp-1")
    assert problem is not None and "syntax error in pattern" in problem.text()
