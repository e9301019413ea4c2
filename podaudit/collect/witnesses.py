"""The witnesses' W records (gather/witnesses.sh) and what they make: ``NodeWitnesses``.

The runtime's word is read by kubelet/crictl.py, the kubelet's /pods by kubelet/podlist.py
and its /configz by api/view.py; this module says which answer counts and, when none was
heard, why, in one line: refused (401: the kubelet does not trust that certificate; 403: the
identity may not read nodes/proxy; 500 "Authorization error": its webhook could not ask the
API server), absent (nothing to ask: no crictl, no certificate, nothing listening) or failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podaudit.api.view import UNDECODED, configz_object, decode_json
from podaudit.kubelet.crictl import CriAnswer, runtime_word
from podaudit.kubelet.podlist import PodListError, parse_pod_list
from podaudit.model import KubeletWord, NodeWitnesses, Witness, WitnessSource, WitnessStatus

# The witnesses (gather/witnesses.sh): bytes kept of each answer (crictl pods and ps, the
# kubelet's /pods and /configz: a node of 110 pods answers with a few hundred KiB), of one
# crictl inspect, and of the end of a container's log; seconds for each command; containers
# inspected at most (the failing static pods: a control plane has four).
WITNESS_CAP = 4 << 20
INSPECT_CAP = 1 << 20
LOG_CAP = 16 << 10
WITNESS_SECONDS = 5
# Seconds for the whole piece at most: no command starts unless its seconds end within it, so
# the witnesses stay well inside the node's timeout (witness_budget) even when every command
# would take all of its seconds (command_seconds).
WITNESS_BUDGET = 12
MAX_INSPECTED = 8
MAX_WITNESS_RECORDS = 64  # W records read of one stream; more is not the script's


def witness_budget(timeout: float) -> int:
    """Seconds for the witness piece on a node whose exec has ``timeout`` seconds: a third
    of it (the files and the transport keep the rest), at most WITNESS_BUDGET, at least 1."""
    return int(min(WITNESS_BUDGET, max(1, timeout / 3)))


def command_seconds(budget: int) -> int:
    """Seconds for each witness command (crictl, curl) within a budget: WITNESS_SECONDS, or
    half the budget when that is less, so two commands that take all their time still fit
    (a --timeout of 10 s gives a 3 s budget and 1 s a command; the default 30 s, 10 s and 5 s)."""
    return max(1, min(WITNESS_SECONDS, budget // 2))


class WitnessRecordError(ValueError):
    """A malformed W record (remote.py reports it as a GatherError)."""


def text_of(raw: bytes) -> str:
    """A STR of the gather stream as text (undecodable bytes kept as surrogates)."""
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class HttpAnswer:
    """One GET of the kubelet's /pods or /configz as the script recorded it (a ``W http`` record)."""

    what: str  # pods, configz
    rc: int  # curl's (or wget's) exit status: 7 nothing listening, 28 no answer in time
    code: int  # the HTTP status, 0 when there was none
    url: str
    via: str  # the client certificate (apiserver-kubelet-client, admin.conf, ...) or read-only-port
    body: bytes
    err: bytes = b""


@dataclass
class WitnessRecords:
    """The W records of one stream."""

    absent: dict[str, str] = field(default_factory=dict)  # runtime, kubelet, https, readonly, configz -> why not
    cri: list[CriAnswer] = field(default_factory=list)
    http: list[HttpAnswer] = field(default_factory=list)

    @property
    def seen(self) -> bool:
        return bool(self.absent or self.cri or self.http)


_W_KINDS = {"none": ("runtime", "kubelet", "https", "readonly", "configz"), "cri": ("pods", "ps", "inspect", "logs"),
            "http": ("pods", "configz")}
_W_ARITY = {"none": 3, "cri": 4, "http": 5}


def add_witness(records: WitnessRecords, words: list[str], string: Callable[[], bytes],
                number: Callable[[str, str], int]) -> None:
    """One W record (header ``words``; ``string()`` reads its next STR, ``number(token, what)``
    checks a status) into ``records``; WitnessRecordError when it is malformed."""
    kinds = _W_KINDS.get(words[1]) if len(words) > 1 else None
    if kinds is None or len(words) != _W_ARITY[words[1]] or words[2] not in kinds:
        raise WitnessRecordError(f"malformed W record {' '.join(words)[:60]!r}")
    full = len(records.cri) + len(records.http) + len(records.absent) >= MAX_WITNESS_RECORDS
    if words[1] == "none":
        why = " ".join(text_of(string()).split())[:300]
        records.absent[words[2]] = why
    elif words[1] == "cri":
        rc = number(words[3], "exit status")
        arg, out, err = string(), string(), string()
        if not full:
            records.cri.append(CriAnswer(words[2], rc, text_of(arg), out, err))
    else:
        rc, code = number(words[3], "exit status"), number(words[4], "HTTP status")
        url, via, body, err = string(), string(), string(), string()
        if not full:
            records.http.append(HttpAnswer(words[2], rc, code, text_of(url), text_of(via), body, err))


def witnesses_of(records: WitnessRecords) -> NodeWitnesses:
    """What the node's kubelet and runtime said, from the W records of one stream."""
    return NodeWitnesses(kubelet_word(records), runtime_word(records.cri, records.absent.get("runtime"), WITNESS_CAP))


# --- the kubelet -----------------------------------------------------------------------------

_ORDER = (WitnessStatus.REFUSED, WitnessStatus.FAILED, WitnessStatus.ABSENT)  # the most telling first


def kubelet_word(records: WitnessRecords) -> KubeletWord:
    """Heard: the first /pods answered 200 with a pod list (and /configz with the same
    certificate); otherwise the most telling status of the tries, with each try's why."""
    if "kubelet" in records.absent:
        return KubeletWord(_witness(WitnessStatus.ABSENT, "node", records.absent["kubelet"]))
    whys: list[tuple[WitnessStatus, str]] = []
    if "https" in records.absent:
        whys.append((WitnessStatus.ABSENT, records.absent["https"]))
    for answer in (a for a in records.http if a.what == "pods"):
        if answer.code == 200 and answer.rc == 0 and len(answer.body) < WITNESS_CAP:
            try:
                pods = parse_pod_list(answer.body)
            except PodListError as exc:
                whys.append((WitnessStatus.FAILED, f"{answer.url} answered, but {exc}"))
                continue
            configz, note = _configz(records, answer.via)
            return KubeletWord(_witness(WitnessStatus.HEARD, _via(answer), note), pods, configz)
        whys.append(_why(answer))
    if "readonly" in records.absent:  # the read-only port: closed, not the kubelet's, no time left
        whys.append((WitnessStatus.ABSENT, records.absent["readonly"]))
    if not whys:
        return KubeletWord(_witness(WitnessStatus.ABSENT, "node", "the kubelet was not asked"))
    status = min((s for s, _ in whys), key=_ORDER.index)
    tried = [a for a in records.http if a.what == "pods"]
    via = _via(tried[0]) if tried else "node"
    return KubeletWord(_witness(status, via, "; ".join(dict.fromkeys(why for _, why in whys))[:600]))


def _witness(status: WitnessStatus, via: str, detail: str) -> Witness:
    return Witness(WitnessSource.KUBELET, status, via[:200], " ".join(detail.split()))


def _via(answer: HttpAnswer) -> str:
    """``https://127.0.0.1:10250 (admin.conf)``; the read-only port is said by its URL."""
    base = answer.url.rsplit("/", 1)[0]
    return base if answer.via == "read-only-port" else f"{base} ({answer.via})"


def _configz(records: WitnessRecords, via: str) -> tuple[dict[str, Any] | None, str]:
    """The kubeletconfig of /configz asked with the same certificate, or why there is none."""
    answer = next((a for a in records.http if a.what == "configz" and a.via == via), None)
    if answer is None:
        if via == "read-only-port":
            return None, "no /configz: the read-only port has none"
        return None, f"no /configz: {records.absent['configz']}" if "configz" in records.absent else "no /configz"
    if answer.code != 200 or answer.rc != 0 or len(answer.body) >= WITNESS_CAP:
        return None, f"no /configz: {_why(answer)[1]}"
    problems: list[str] = []
    doc = decode_json(answer.body, answer.url, problems)
    config = configz_object(doc, answer.url, problems) if doc is not UNDECODED else None
    return config, "" if config is not None else f"no /configz: {'; '.join(problems)[:200]}"


def _why(answer: HttpAnswer) -> tuple[WitnessStatus, str]:
    """Why one GET was no answer, for people (the kubelet's own words where it gave some)."""
    said = _first_line(answer.body)
    who = "" if answer.via == "read-only-port" else f" with the {answer.via} certificate"
    if answer.code == 401:
        return WitnessStatus.REFUSED, f"{answer.url}: HTTP 401{who}: the kubelet does not trust that certificate"
    if answer.code == 403:
        return WitnessStatus.REFUSED, f"{answer.url}: HTTP 403{who} ({said})"
    if answer.code == 500 and "Authorization error" in said:
        # The kubelet's webhook authorizer asks the API server (SubjectAccessReview): when it
        # is down, every request fails so (InstallAuthFilter, pkg/kubelet/server/server.go).
        return WitnessStatus.REFUSED, (f"{answer.url}: HTTP 500{who} ({said}): the kubelet could not ask the "
                                       "API server to authorize the request; is the API server down?")
    if answer.code:
        cut = " (cut: too long)" if len(answer.body) >= WITNESS_CAP else ""
        return WitnessStatus.FAILED, f"{answer.url}: HTTP {answer.code}{who}{cut}" + (f" ({said})" if said else "")
    err = _first_line(answer.err)
    if answer.rc == 7 or "refused" in err.lower() or "failed to connect" in err.lower():
        return WitnessStatus.ABSENT, f"{answer.url}: nothing listening"
    if answer.rc == 28:
        return WitnessStatus.FAILED, f"{answer.url}: no answer in time"
    return WitnessStatus.FAILED, f"{answer.url}: {err or f'exit {answer.rc}'}"


def _first_line(data: bytes) -> str:
    for line in data[:4096].decode("utf-8", "replace").splitlines():
        if line.strip() and not line.lstrip().startswith("HTTP/"):
            return " ".join(line.split())[:200]
    return ""
