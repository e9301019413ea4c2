"""--redact: what a bundle must not carry out of a site.

Manifests keep their shape (the analysis is the same) but every environment value, every
annotation value, probe header values and every command-line value that names a secret
(``--password=``, ``--token ...``, ``--private-key=``, ``--manifest-url-header=``) become
``REDACTED``, as do URL passwords (``https://user:pw@``); the kubelet's own command line
likewise. A file in the static pod folder that is not a Pod is replaced by a placeholder.
Other files (env files, units, kubelet config) get the same treatment as text: secret-named
flags and keys. File paths are kept: they are what podaudit is about. A secret inside a shell
string (``sh -c "... $TOKEN"``) cannot be told apart and stays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import yaml

from podaudit.kubelet.yamlload import DecodeError, decode_document

MARK = "REDACTED"
PLACEHOLDER = b"# REDACTED: not a Pod manifest\n"
# Not "auth": --anonymous-auth and --authorization-mode are settings podaudit audits (PA406).
_SECRET = re.compile(r"(password|passwd|token|secret|credential|key|header)", re.I)
_FLAG = re.compile(r"^(--?[\w.-]+)=(.*)$", re.S)
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
# In any text file (env files, units, kubelet config): a secret-named flag or key and its value.
_TEXT_FLAG = re.compile(rb"(--?[\w.-]*(?:password|passwd|token|secret|credential|key|header)[\w.-]*)([= ])"
                        rb"([^\s\"']+)", re.I)
_TEXT_KEY = re.compile(rb"^([ \t]*[\w.-]*(?:password|passwd|token|secret|credential|header|authorization)[\w.-]*"
                       rb"[ \t]*[:=][ \t]*)(\S.*)$",
                       re.I | re.M)
_TEXT_USERINFO = re.compile(rb"(?<=://)[^/@\s\"']+@")


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
        elif _USERINFO.search(word):
            out.append(_USERINFO.sub(f"{MARK}@", word))
        elif word.startswith("-") and "=" not in word and _SECRET.search(word) and not word.endswith("file"):
            out.append(word)
            hide_next = True
        else:
            out.append(word)
    return tuple(out)


def _is_path(flag: str, value: str) -> bool:
    """A value that is no secret: a file or folder, a boolean, a number (--authentication-token-webhook=true)."""
    return flag.endswith(("file", "dir", "path")) or value.startswith("/") or value.lower() in {"true", "false"} \
        or value.isdigit()


def redact_text(data: bytes) -> bytes:
    """Env files, units and config files: secret-named flags and keys, URL passwords. File and
    folder paths stay (a value starting with '/' or a flag ending in -file, -dir, -path)."""

    def flag(match: re.Match[bytes]) -> bytes:
        name, value = match[1].decode("latin-1"), match[3].decode("latin-1")
        return match[0] if _is_path(name, value) else match[1] + match[2] + MARK.encode()

    def key(match: re.Match[bytes]) -> bytes:
        return match[0] if match[2].startswith(b"/") else match[1] + MARK.encode()

    return _TEXT_USERINFO.sub(MARK.encode() + b"@", _TEXT_KEY.sub(key, _TEXT_FLAG.sub(flag, data)))


def redact_manifest(data: bytes) -> bytes:
    """The manifest with env values and secret flags replaced; unchanged when it does not
    decode (the analysis reports it as the kubelet would)."""
    try:
        decoded = decode_document(data)
    except DecodeError:
        return PLACEHOLDER  # not a pod (a key, a note): nothing of it leaves the site
    pod = decoded.value
    if not isinstance(pod, dict):
        return PLACEHOLDER
    _redact_pod(pod)
    if data.lstrip()[:1] in (b"{", b"["):
        return json.dumps(pod, indent=2).encode() + b"\n"
    return yaml.safe_dump(pod, sort_keys=False, default_flow_style=False).encode()


def _redact_pod(pod: dict[str, Any]) -> None:
    meta = pod.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        # last-applied-configuration and friends carry the whole pod, env values included.
        meta["annotations"] = dict.fromkeys(meta["annotations"], MARK)
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
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                get = container.get(probe, {}).get("httpGet") if isinstance(container.get(probe), dict) else None
                for header in (get or {}).get("httpHeaders") or [] if isinstance(get, dict) else []:
                    if isinstance(header, dict) and "value" in header:
                        header["value"] = MARK
