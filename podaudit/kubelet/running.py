"""What the running kubelet says of itself, and the folder it reads.

Its word comes through the API server's node proxy or from the node itself (/configz and
/pods); here the ways it was asked are merged into one, and the running static pod folder is
taken from the process's own command line or from /configz. /configz is set once, at start
(initConfigz, cmd/kubelet/app/server.go), so it names the folder the kubelet really watches
even when its files changed since (makePodSourceConfig, pkg/kubelet/kubelet.go, reads
staticPodPath once).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Literal

from podaudit.model import KubeletWord, Witness, WitnessSource, WitnessStatus

KUBELET, HEARD = WitnessSource.KUBELET, WitnessStatus.HEARD


@dataclass(frozen=True)
class RunningPath:
    """The static pod folder the running kubelet reads, as far as it is known.

    ``path`` None: not known; "": none (file pods disabled). ``source`` says how it is known:
    the process's own --pod-manifest-path (already the files' path), or its /configz.
    """

    path: str | None = None
    source: Literal["command line", "configz", ""] = ""
    via: str = ""  # for people: "its own command line", "/configz through api node proxy"
    url: str | None = None  # staticPodURL from /configz ("" unset; None: not known)


def normal(path: str | None) -> str:
    """'' for none; an absolute path normalised (the kubelet lists a folder with or without '/')."""
    return posixpath.normpath(path) if path else ""


def path_differs(running: RunningPath, files_path: str | None) -> bool:
    return running.path is not None and normal(running.path) != normal(files_path)


def merge_kubelet_words(*words: KubeletWord | None) -> tuple[KubeletWord | None, str]:
    """The kubelet's word from each way it was asked (the API's node proxy first, then the node
    itself) as one: /pods and /configz from the first that heard each. Also how /configz came."""
    given = [w for w in words if w is not None]
    heard = [w for w in given if w.witness.status is HEARD]
    if not heard:
        return (_unheard(given), "") if given else (None, "")
    pods = next((w for w in heard if w.pods is not None), None)
    configz = next((w for w in heard if w.configz is not None), None)
    used = list({id(w): w for w in (pods, configz, heard[0]) if w is not None}.values())  # words hold dicts
    witness = Witness(KUBELET, HEARD, ", ".join(dict.fromkeys(w.witness.via for w in used)),
                      "; ".join(w.witness.detail for w in used if w.witness.detail))
    return (KubeletWord(witness, pods.pods if pods else None, configz.configz if configz else None,
                        pods.heard_at if pods else None), configz.witness.via if configz else "")


def _unheard(words: list[KubeletWord]) -> KubeletWord:
    """None heard: the most telling status (refused, then failed, then absent), every why."""
    order = (WitnessStatus.REFUSED, WitnessStatus.FAILED, WitnessStatus.ABSENT)
    first = min(words, key=lambda w: order.index(w.witness.status) if w.witness.status in order else len(order))
    told = [w.witness for w in words if w.witness.detail]
    # Each why names its way only when there were several ways (the line already names one).
    detail = "; ".join(f"{w.via}: {w.detail}" if w.via and len(told) > 1 else w.detail for w in told)
    return KubeletWord(Witness(KUBELET, first.witness.status, first.witness.via, detail))


def running_path(word: KubeletWord | None, configz_via: str, files_path: str | None, from_flag: bool,
                 cwd: str) -> RunningPath:
    """Where the running kubelet reads static pods: its own --pod-manifest-path (the files'
    path, no witness needed), else its /configz, relative paths against its working
    directory as the kubelet keeps them (mergeKubeletConfigurations does not resolve them)."""
    configz = word.configz if word is not None else None
    url = _configz_path(configz, "staticPodURL", "") if configz is not None else None
    if from_flag:
        return RunningPath(normal(files_path), "command line", "its own command line (--pod-manifest-path)", url)
    if configz is None:
        return RunningPath()
    return RunningPath(_configz_path(configz, "staticPodPath", cwd), "configz", f"/configz through {configz_via}", url)


def _configz_path(configz: dict[str, Any], key: str, cwd: str) -> str:
    value = configz.get(key)
    if not isinstance(value, str) or not value:
        return ""
    if key == "staticPodURL":
        return value
    return normal(value if value.startswith("/") else posixpath.join(cwd or "/", value))
