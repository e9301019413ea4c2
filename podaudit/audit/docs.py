"""The rule catalogue as text: `podaudit rules`, `podaudit explain ID`, docs/rules.md."""

from __future__ import annotations

from podaudit.audit.registry import Rule, load_all_rules

FAMILIES = {"1": "Kubelet and static pod path", "2": "Static pod directory hygiene", "3": "API consistency",
            "4": "Security", "5": "Baseline and drift", "9": "Collection"}


def rules_table() -> str:
    rows = sorted(load_all_rules().values(), key=lambda r: r.id)
    return "".join(f"{r.id}  {r.severity:<8}  {r.title}\n" for r in rows)


def rule_page(rule: Rule) -> str:
    """ShellCheck-style page: what, why, fix, example."""
    return (f"{rule.id} ({rule.severity}): {rule.title}\n\n"
            f"What it flags\n  {rule.what}\n\nWhy it matters\n  {rule.why}\n\n"
            f"How to fix\n  {rule.fix}\n\nExample\n  {rule.example}\n")


def rules_markdown() -> str:
    """docs/rules.md, generated: `podaudit rules --output markdown > docs/rules.md`."""
    rules = sorted(load_all_rules().values(), key=lambda r: r.id)
    lines = ["# Rules", "", "Generated from the registry by `podaudit rules --output markdown`; do not edit by hand.",
             "An ID never changes meaning once shipped.", "", "| ID | severity | title |", "|---|---|---|"]
    lines += [f"| [{r.id}](#{r.id.lower()}) | {r.severity} | {r.title} |" for r in rules]
    family = ""
    for r in rules:
        if r.id[2] != family:
            family = r.id[2]
            lines += ["", f"## PA{family}xx: {FAMILIES.get(family, 'Other')}"]
        lines += ["", f"### {r.id}", "", f"**{r.title}** (severity: {r.severity})", "",
                  f"- **What it flags:** {r.what}", f"- **Why it matters:** {r.why}",
                  f"- **How to fix:** {r.fix}", f"- **Example:** `{r.example}`"]
    return "\n".join(lines) + "\n"
