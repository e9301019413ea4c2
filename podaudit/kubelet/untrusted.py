"""Decoded JSON or YAML from a node, a cluster or a bundle, taken apart without trusting its
shape: a field of the wrong type reads as empty, never as an exception, and text is cut."""

from __future__ import annotations

from typing import Any

# Characters kept of a name, uid, state or reason: a DNS-1123 subdomain is at most 253.
MAX_TEXT = 256


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    """A string as it is; anything else is ''."""
    return value if isinstance(value, str) else ""


def as_text(value: Any, limit: int = MAX_TEXT) -> str:
    """A string cut at ``limit`` characters; anything else is ''."""
    return value[:limit] if isinstance(value, str) else ""
