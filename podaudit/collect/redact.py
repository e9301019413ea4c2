"""--redact: what a bundle must not carry out of a site.

Manifests keep their shape (the analysis is the same) but every environment value and every
command-line value that names a secret (``--password=``, ``--token ...``) becomes
``REDACTED``; the kubelet's own command line likewise. File paths are kept: they are what
podaudit is about.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import yaml

from podaudit.kubelet.yamlload import DecodeError, decode_document

MARK = "REDACTED"
_SECRET = re.compile(r"(password|passwd|token|secret|credential|api-?key|auth-?key)", re.I)
_FLAG = re.compile(r"^(--?[\w.-]+)=(.*)$", re.S)


def redact_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """``--token=abc`` and ``--token abc`` become ``--token=REDACTED`` and ``--token REDACTED``;
    a flag naming a file (``--token-auth-file=/x``) is kept."""
    out: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            out.append(MARK)
            hide_next = False
            continue
        match = _FLAG.match(word)
        if match and _SECRET.search(match[1]) and not _is_path(match[1], match[2]):
            out.append(f"{match[1]}={MARK}")
        elif word.startswith("-") and "=" not in word and _SECRET.search(word) and not word.endswith("file"):
            out.append(word)
            hide_next = True
        else:
            out.append(word)
    return tuple(out)


def _is_path(flag: str, value: str) -> bool:
    return flag.endswith(("file", "dir", "path")) or value.startswith("/")


def redact_manifest(data: bytes) -> bytes:
    """The manifest with env values and secret flags replaced; unchanged when it does not
    decode (the analysis reports it as the kubelet would)."""
    try:
        decoded = decode_document(data)
    except DecodeError:
        return data
    pod = decoded.value
    if not isinstance(pod, dict):
        return data
    _redact_pod(pod)
    if data.lstrip()[:1] in (b"{", b"["):
        return json.dumps(pod, indent=2).encode() + b"\n"
    return yaml.safe_dump(pod, sort_keys=False, default_flow_style=False).encode()


def _redact_pod(pod: dict[str, Any]) -> None:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return
    for field in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            if not isinstance(container, dict):
                continue
            for env in container.get("env") or []:
                if isinstance(env, dict) and "value" in env:
                    env["value"] = MARK
            for key in ("command", "args"):
                words = container.get(key)
                if isinstance(words, list) and all(isinstance(w, str) for w in words):
                    container[key] = list(redact_argv(words))
