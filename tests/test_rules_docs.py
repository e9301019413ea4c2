"""docs/rules.md is generated from the registry; stale docs fail the build."""

from pathlib import Path

from podaudit.audit.docs import rules_markdown
from tests.cli_helpers import run

DOC = Path(__file__).parent.parent / "docs" / "rules.md"


def test_docs_rules_md_is_current():
    assert DOC.read_text() == rules_markdown(), "regenerate: podaudit rules --output markdown > docs/rules.md"


def test_rules_and_explain_commands():
    listing = run("rules")
    assert listing.returncode == 0 and "PA201  high" in listing.stdout
    page = run("explain", "pa201")
    assert page.returncode == 0
    for heading in ("What it flags", "Why it matters", "How to fix", "Example"):
        assert heading in page.stdout
    unknown = run("explain", "PA999")
    assert unknown.returncode == 2 and "no rule PA999" in unknown.stderr
