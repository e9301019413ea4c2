"""The layers of docs/architecture.md hold: no podaudit module imports a package above its
own, no import circle but the rule registry's, and no module over 400 lines.

Every import counts: at the top of a module, inside a function (the CLI's lazy imports) and
under ``TYPE_CHECKING``: a type-only import upward still ties a lower layer to a higher one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).parent.parent
PACKAGE = REPO / "podaudit"
DOC = REPO / "docs" / "architecture.md"

# Bottom to top. A package (or top-level module) may import only from the rows below its
# own: not from its own row (collect/inventory, audit/remedy stay apart) and never upward.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("model", "names", "shell", "podaudit"),  # data, checks on hostile text, the version
    ("errors",),
    ("kubelet",),  # pure: it reads a node only through the NodeReader it is handed
    ("userfiles",),
    ("transport",),
    ("api",),
    ("collect", "inventory"),
    ("audit", "remedy"),
    ("watch",),  # podaudit watch: feeds, the loop, events (sinks render them in report/)
    ("report",),
    ("run",),
    ("cli",),
    ("__main__",),
)
RANK = {name: rank for rank, row in enumerate(LAYERS) for name in row}

# The one accepted circle: the registry imports every rule module (load_all_rules), and each
# rule module imports the registry to register its rules.
REGISTRY = "podaudit.audit.registry"
RULE_MODULE = re.compile(r"podaudit\.audit\.rules_\w+")

MAX_LINES = 400
# Modules allowed over the limit, each with why. An entry that is back under the limit, or
# gone, fails the test too, so the list cannot go stale.
OVER_THE_LIMIT: dict[str, str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """The package (or top-level module) a module belongs to: podaudit.collect.remote -> collect."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports_of(path: Path, module: str) -> set[str]:
    """Every podaudit module or name ``path`` imports, wherever the import statement is."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {name for name in found if name == "podaudit" or name.startswith("podaudit.")}


def import_graph() -> dict[str, set[str]]:
    """module -> the podaudit modules it imports (a name imported from a module counts as
    that module; ``from podaudit.audit import rules_api`` as podaudit.audit.rules_api)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        names = imports_of(path, module)
        graph[module] = {n for n in names if n in paths and n != module}
        # "from podaudit import __version__" names the package module itself.
        graph[module] |= {"podaudit"} & names - {module}
    return graph


def upward_imports(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Each import of a package that is not in a lower row of LAYERS, as one line."""
    wrong = []
    for module, targets in sorted(graph.items()):
        mine = layer_of(module)
        for target in sorted(targets):
            theirs = layer_of(target)
            if theirs == mine:
                continue
            if mine not in RANK or theirs not in RANK:
                wrong.append(f"{module} -> {target}: {mine if mine not in RANK else theirs} has no row in LAYERS")
            elif RANK[theirs] >= RANK[mine]:
                wrong.append(f"{module} -> {target}: {theirs} is not below {mine}")
    return wrong


def circles(graph: Mapping[str, Iterable[str]], type_only: Mapping[str, set[str]] | None = None) -> list[list[str]]:
    """Groups of modules that import each other, round a circle (Tarjan's strongly connected
    components), without the registry's imports of its rule modules and ``type_only`` edges."""
    edges = {m: {t for t in ts if not (m == REGISTRY and RULE_MODULE.fullmatch(t))
                 and t not in (type_only or {}).get(m, set())} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(edges.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def type_only_imports() -> dict[str, set[str]]:
    """module -> modules it imports only under ``if TYPE_CHECKING:`` (never at run time)."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    result: dict[str, set[str]] = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = [n for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)]
        typed = {t for block in guarded for stmt in block.body for t in _names(stmt)}
        runtime = {t for stmt in ast.walk(tree) if isinstance(stmt, (ast.Import, ast.ImportFrom))
                   and not any(stmt in ast.walk(b) for b in guarded) for t in _names(stmt)}
        result[module] = {t for t in typed - runtime if t in paths}
    return result


def _names(stmt: ast.AST) -> set[str]:
    if isinstance(stmt, ast.ImportFrom) and stmt.module:
        return {stmt.module, *(f"{stmt.module}.{a.name}" for a in stmt.names)}
    if isinstance(stmt, ast.Import):
        return {a.name for a in stmt.names}
    return set()


# --- the checks --------------------------------------------------------------------------


def test_no_module_imports_a_package_above_its_own() -> None:
    assert upward_imports(import_graph()) == [], "see docs/architecture.md for what each package may import"


def test_the_check_sees_an_upward_and_a_sideways_import() -> None:
    graph = {"podaudit.model": {"podaudit.cli.options"}, "podaudit.audit.engine": {"podaudit.remedy.plan"},
             "podaudit.collect.remote": {"podaudit.transport", "podaudit.collect.records"},
             "podaudit.newthing": {"podaudit.model"}}
    assert upward_imports(graph) == [
        "podaudit.audit.engine -> podaudit.remedy.plan: remedy is not below audit",
        "podaudit.model -> podaudit.cli.options: cli is not below model",
        "podaudit.newthing -> podaudit.model: newthing has no row in LAYERS",
    ]


def test_no_import_circle_but_the_rule_registry() -> None:
    assert circles(import_graph(), type_only_imports()) == []


def test_the_circle_check_sees_a_circle_and_spares_the_registry() -> None:
    graph = {"podaudit.a": {"podaudit.b"}, "podaudit.b": {"podaudit.c"}, "podaudit.c": {"podaudit.a"},
             REGISTRY: {"podaudit.audit.rules_x"}, "podaudit.audit.rules_x": {REGISTRY}}
    assert circles(graph) == [["podaudit.a", "podaudit.b", "podaudit.c"]]


def test_no_module_over_400_lines() -> None:
    sizes = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines())
             for p in sorted(PACKAGE.rglob("*")) if p.suffix in {".py", ".sh"}}
    over = {path for path, lines in sizes.items() if lines > MAX_LINES}
    assert over - OVER_THE_LIMIT.keys() == set(), {p: sizes[p] for p in over - OVER_THE_LIMIT.keys()}
    assert OVER_THE_LIMIT.keys() - over == set(), "back under the limit (or gone): remove from OVER_THE_LIMIT"


def test_the_document_draws_these_layers() -> None:
    """docs/architecture.md's picture names the same rows, top to bottom."""
    text = DOC.read_text(encoding="utf-8")
    picture = text.split("```")[1]
    drawn = [re.findall(r"\b([a-z_]+)(?:/|\.py)", line.split("  ")[0]) for line in picture.splitlines()]
    drawn = [row for row in drawn if row]
    expected = [[n for n in row if n not in {"podaudit", "__main__"}] for row in reversed(LAYERS)]
    assert [sorted(r) for r in drawn] == [sorted(r) for r in expected if r]
