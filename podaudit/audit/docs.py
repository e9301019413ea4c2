"""The rule catalogue as text: `podaudit rules`, `podaudit explain ID`, docs/rules.md."""

from __future__ import annotations

from podaudit.audit.registry import CIS_BENCHMARK, CIS_SOURCE, Rule, cis_key, load_all_rules

FAMILIES = {"1": "Kubelet and static pod path", "2": "Static pod directory hygiene", "3": "API consistency",
            "4": "Security", "5": "Baseline and drift", "9": "Collection"}
# The kube-bench file of each benchmark section (cfg/cis-1.12/).
CIS_FILES = {"1": "master.yaml", "2": "etcd.yaml", "3": "controlplane.yaml", "4": "node.yaml", "5": "policies.yaml"}


def cis_text(rule: Rule, sep: str = ", ") -> str:
    return sep.join(rule.cis) if rule.cis else "-"


def cis_rows() -> list[tuple[str, Rule]]:
    """(CIS ID, rule) for every control a rule checks, in benchmark order."""
    pairs = [(control, r) for r in load_all_rules().values() for control in r.cis]
    return sorted(pairs, key=lambda pair: (cis_key(pair[0]), pair[1].id))


def cis_file(control: str) -> str:
    """The kube-bench file that encodes the control (``node.yaml`` for 4.2.1)."""
    return CIS_FILES.get(control.split(".", maxsplit=1)[0], "?")


def rules_table() -> str:
    rows = sorted(load_all_rules().values(), key=lambda r: r.id)
    width = max((len(cis_text(r, ",")) for r in rows), default=3)
    return "".join(f"{r.id}  {r.severity:<8}  {cis_text(r, ','):<{width}}  {r.title}\n" for r in rows)


def cis_table() -> str:
    """`podaudit rules --cis`: one line per CIS control a rule checks, in benchmark order."""
    rows = cis_rows()
    width = max((len(control) for control, _ in rows), default=3)
    lines = [f"{CIS_BENCHMARK} ({CIS_SOURCE}): the controls podaudit checks\n"]
    lines += [f"{control:<{width}}  {r.id}  {r.severity:<8}  {r.title}\n" for control, r in rows]
    return "".join(lines)


def rule_page(rule: Rule) -> str:
    """ShellCheck-style page: what, why, fix, example (and the CIS controls it checks)."""
    cis = f"\nCIS controls ({CIS_BENCHMARK})\n  {cis_text(rule)}\n" if rule.cis else ""
    return (f"{rule.id} ({rule.severity}): {rule.title}\n\n"
            f"What it flags\n  {rule.what}\n\nWhy it matters\n  {rule.why}\n\n"
            f"How to fix\n  {rule.fix}\n\nExample\n  {rule.example}\n{cis}")


def cis_markdown() -> str:
    """`podaudit rules --cis --output markdown`."""
    lines = [f"# {CIS_BENCHMARK}: the controls podaudit checks", "",
             f"Control numbers as kube-bench encodes them ({CIS_SOURCE}).", "",
             "| CIS | kube-bench file | rule | severity | title |", "|---|---|---|---|---|"]
    lines += [f"| {control} | {cis_file(control)} | {r.id} | {r.severity} | {r.title} |"
              for control, r in cis_rows()]
    return "\n".join(lines) + "\n"


def rules_markdown() -> str:
    """docs/rules.md, generated: `podaudit rules --output markdown > docs/rules.md`."""
    rules = sorted(load_all_rules().values(), key=lambda r: r.id)
    lines = ["# Rules", "", "Generated from the registry by `podaudit rules --output markdown`; do not edit by hand.",
             "An ID never changes meaning once shipped.", "",
             f"CIS numbers are those of the {CIS_BENCHMARK}, as kube-bench encodes them ({CIS_SOURCE}); "
             "`podaudit rules --cis` lists them by control.", "",
             "| ID | severity | CIS | title |", "|---|---|---|---|"]
    lines += [f"| [{r.id}](#{r.id.lower()}) | {r.severity} | {cis_text(r)} | {r.title} |" for r in rules]
    family = ""
    for r in rules:
        if r.id[2] != family:
            family = r.id[2]
            lines += ["", f"## PA{family}xx: {FAMILIES.get(family, 'Other')}"]
        lines += ["", f"### {r.id}", "", f"**{r.title}** (severity: {r.severity})", "",
                  f"- **What it flags:** {r.what}", f"- **Why it matters:** {r.why}",
                  f"- **How to fix:** {r.fix}", f"- **Example:** `{r.example}`"]
        if r.cis:
            files = ", ".join(dict.fromkeys(f"`{CIS_SOURCE.removeprefix('kube-bench ')}/{cis_file(c)}`" for c in r.cis))
            lines.append(f"- **CIS:** {', '.join(r.cis)} (kube-bench {files})")
    return "\n".join(lines) + "\n"
