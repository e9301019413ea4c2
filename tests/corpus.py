"""The kubelet agreement corpus: one row per case, each naming the upstream code that decides it.

Every ``tests/test_corpus_*.py`` holds a table of ``Case`` rows and one parametrized test that
runs podaudit's model on the row's input and compares with what the kubelet does. ``upstream``
is "<repository path> <function> L<first>-<last> (<version>)", read in the upstream source
itself; ``id`` is what pytest shows. ``want`` is what the kubelet does, in the test's own terms
(a fate, a message, a path...). A row states behaviour, never podaudit's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Case:
    id: str
    upstream: str
    given: Any
    want: Any


def cases(rows: list[Case]) -> Any:
    """``pytest.mark.parametrize`` over rows, with their ids; refuses a row without a source."""
    for row in rows:
        assert " L" in row.upstream or "#" in row.upstream, f"{row.id}: upstream must name lines or a section"
    ids = [row.id for row in rows]
    assert len(set(ids)) == len(ids), "case ids must be unique"
    return pytest.mark.parametrize("case", rows, ids=ids)
