"""What a redacted value becomes, and the few values kept as they are anywhere.

A redacted value becomes ``REDACTED-<10 hex digits>``: a keyed hash (BLAKE2s) under a key drawn
afresh for each podaudit run and never written anywhere, so two equal values in one bundle
give the same token (a flag that changed since the kubelet started is still seen to change,
two nodes' equal manifests still compare equal) and no token can be guessed back, however
short the secret. Absolute paths are kept: they are what podaudit is about.
"""

from __future__ import annotations

import hashlib
import re
import secrets

MARK = "REDACTED"
_KEY = secrets.token_bytes(32)
# A plain absolute path: no ':' (a URL), '=', quotes, spaces or control characters.
_PATH = re.compile(r"/[A-Za-z0-9._/@+,~%-]*")
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")
_QUERY = re.compile(r"(?<=[?#])\S*")
# A word that is only systemd variable references ($A, ${A}): systemd expands it later.
VARIABLES = re.compile(r"(\$[A-Za-z_][A-Za-z0-9_]*|\$\{[A-Za-z_][A-Za-z0-9_]*\})+")


def token(value: str) -> str:
    """``REDACTED-`` and 40 bits of the keyed hash of ``value``."""
    digest = hashlib.blake2s(value.encode("utf-8", "surrogateescape"), key=_KEY, digest_size=5)
    return f"{MARK}-{digest.hexdigest()}"


def is_path(value: str) -> bool:
    return _PATH.fullmatch(value) is not None


def without_userinfo(value: str) -> str:
    """A kept value, but never the ``user:password@`` of a URL in it, nor its query (?token=)."""
    if "://" not in value:
        return value
    return _QUERY.sub(MARK, _USERINFO.sub(f"{MARK}@", value))


def scalar(value: object) -> object:
    """A value no rule reads: null and booleans stay (they say nothing), a path stays, anything
    else becomes its token."""
    if value is None or isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else repr(value)
    return value if isinstance(value, str) and is_path(value) else token(text)


def kept(value: object) -> object:
    """A value a rule reads, as plain data (a str or float subclass would not serialise)."""
    if isinstance(value, str):
        return without_userinfo(str(value))
    if isinstance(value, float):
        return float(value)
    return value
