"""The package's layers (docs: DESIGN.md) hold: no import runs up a layer, services that must not
know each other do not import each other, and no two modules import each other in a circle.

Every import of every module under session_core counts: module level, inside functions, under
``if TYPE_CHECKING:``, and (by their Python-level ``import`` lines) the Cython modules.
``from X import Y`` counts as an import of ``X.Y`` when that is a module, else of ``X``.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "session_core"
PACKAGE = "session_core"

#: Top-level part of the package -> layer.  An import may go to the same layer or below.
LAYERS: dict[str, int] = {
    "errors": 0, "_backend": 0, "private_files": 0,
    "pow": 3, "onion": 3, "swarm": 3, "identity": 3, "identity_store": 3, "recovery": 3,
    "attachments": 3, "blinding": 3, "server_keys": 3, "server_url": 3,
    "rooms": 4,
    "protocol": 4, "chain": 4, "names": 4,
    "node": 5, "devnet": 5, "client": 5, "fileserver": 5, "opengroup": 5, "webserver": 5,
    "testing": 6, "bench": 6,
    "commands": 7, "cli": 7, "backends": 7, "__init__": 7,
}
#: Within a layer, who may import whom where not everybody may (layer 5: the services).
ALLOWED_SIDEWAYS: dict[str, set[str]] = {
    "node": set(),  # a node knows no devnet and no client
    "client": set(),  # a client talks to nodes over the wire only
    "devnet": {"node"},  # the devnet launches nodes (and shares chain/ with them)
    "fileserver": {"webserver"},  # a file server knows only what reaches it over HTTP
    "opengroup": {"webserver"},  # nor does a room server (both stand on the shared HTTP service)
}

_PYX_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w, ()]+)|import\s+([\w., ]+))", re.M)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_files() -> dict[str, Path]:
    files = sorted(ROOT.rglob("*.py")) + sorted(ROOT.rglob("*.pyx"))
    return {module_name(p): p for p in files if ".venv" not in p.parts}


MODULES = module_files()


def is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve_relative(current: str, level: int, target: str | None) -> str:
    base = current.split(".") if is_package(current) else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


def imports_of(name: str) -> Iterator[tuple[str, int]]:
    """``(imported session_core module, line)`` for every import in module *name*."""
    path = MODULES[name]
    text = path.read_text(encoding="utf-8")
    pairs: list[tuple[str, list[str], int]] = []  # (module, names imported from it, line)
    if path.suffix == ".pyx":
        for m in _PYX_IMPORT.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            if m.group(1):
                names = [n.strip().split(" as ")[0] for n in m.group(2).strip("()").split(",") if n.strip()]
                pairs.append((m.group(1), names, line))
            else:
                pairs.extend((n.strip().split(" as ")[0], [], line) for n in m.group(3).split(","))
    else:
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, ast.Import):
                pairs.extend((a.name, [], node.lineno) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                mod = _resolve_relative(name, node.level, node.module) if node.level else (node.module or "")
                pairs.append((mod, [a.name for a in node.names], node.lineno))
    for mod, names, line in sorted(pairs, key=lambda p: p[2]):
        if mod != PACKAGE and not mod.startswith(PACKAGE + "."):
            continue
        targets = [f"{mod}.{n}" for n in names if f"{mod}.{n}" in MODULES]
        if len(targets) < len(names) or not names:
            targets.append(mod)  # names that are not modules come from the module itself
        for t in targets:
            yield t, line


def part_of(name: str) -> str:
    """The top-level part of the package a module belongs to (``__init__`` for the package)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_has_a_layer() -> None:
    assert sorted({part_of(m) for m in MODULES} - set(LAYERS)) == [], "add the new part to LAYERS"


def layer_violations() -> list[str]:
    bad = []
    for name in MODULES:
        src = part_of(name)
        for target, line in imports_of(name):
            dst = part_of(target)
            if target not in MODULES:
                bad.append(f"{name}:{line} imports {target}, which does not exist")
            elif src == dst:
                continue
            elif LAYERS[dst] > LAYERS[src]:
                bad.append(f"{name}:{line} imports {target}: layer {LAYERS[src]} -> {LAYERS[dst]} (up)")
            elif LAYERS[dst] == LAYERS[src] and src in ALLOWED_SIDEWAYS and dst not in ALLOWED_SIDEWAYS[src]:
                bad.append(f"{name}:{line} imports {target}: {src} must not know {dst}")
    return bad


def test_no_import_runs_up_a_layer_or_between_services() -> None:
    assert layer_violations() == []


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for target, _ in imports_of(name):
            # A package's __init__ re-exporting its own submodules is how packages work.
            if is_package(name) and target.startswith(name + "."):
                continue
            if target != name and target in MODULES:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


# -- the checker itself finds what it must ------------------------------------------------------


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_imports_are_all_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports in functions, under TYPE_CHECKING and relative ones count; ``from X import Y``
    is X.Y when that is a module."""
    pkg = tmp_path / "session_core"
    (pkg / "node").mkdir(parents=True)
    (pkg / "devnet").mkdir()
    for f in ("__init__.py", "errors.py", "node/__init__.py", "node/a.py", "devnet/__init__.py", "devnet/b.py"):
        (pkg / f).write_text("")
    (pkg / "node/a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from session_core.devnet import b\n"
        "def f():\n    import session_core.errors\n"
        "from . import a\nfrom ..devnet.b import thing\n"
    )
    here = sys.modules[__name__]
    monkeypatch.setattr(here, "ROOT", pkg)
    monkeypatch.setattr(here, "MODULES", module_files())
    assert sorted(imports_of("session_core.node.a")) == [
        ("session_core.devnet.b", 3), ("session_core.devnet.b", 7), ("session_core.errors", 5),
        ("session_core.node.a", 6),
    ]
    assert [v.split(":")[1] for v in layer_violations()] == ["3 imports session_core.devnet.b", "7 imports session_core.devnet.b"]
