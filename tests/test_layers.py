"""The shape of the code, as docs/architecture.md draws it, checked on every run.

Reads the imports of every module of ``src/qala`` (without importing them) and fails when a
layer imports one above it:

* the hub (``qala.hub``) imports nothing of Qala but itself: no capability, no store;
* the store implements the hub's contract and imports no capability;
* the shared libraries (JSON-LD, configuration, outbound guard) import no capability or store;
* no capability imports ``qala.store``: only the store itself, the backup tool and the wiring
  modules (``app``, ``cli``, ``services``) open stores;
* no module imports another capability's routes;
* no module is longer than 700 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "qala"

#: Top-level parts of ``qala`` that are not capabilities.
HUB = "hub"
STORE = "store"
LIBRARIES = frozenset({"jsonld", "config", "netguard", "outbound", "__init__"})
#: Modules that wire the server together (may open a store, know every capability).
WIRING = frozenset({"app", "cli", "services", "capabilities", "openapi", "web"})
TOOLS = frozenset({"backup", "demo"})
MAX_LINES = 700


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``qala…`` module ``path`` imports (``from qala.x import y`` counts as qala.x.y
    when y is a module, else qala.x)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("qala"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if not module.startswith("qala"):
                continue
            found.add(module)
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                if _exists(candidate):
                    found.add(candidate)
    return found


def _exists(module: str) -> bool:
    path = SRC.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_capability(part: str) -> bool:
    return part not in {HUB, STORE} | LIBRARIES | WIRING | TOOLS and part != ""


def is_routes(module: str) -> bool:
    return "routes" in module.split(".")[2:]


def violations(rule: str) -> list[str]:
    found = []
    for module, imported in IMPORTS.items():
        here = top(module)
        for target in sorted(imported):
            there = top(target)
            if there == here:
                continue
            bad = {
                "hub": here == HUB,
                "store": here == STORE and there != HUB and there not in LIBRARIES,
                "libraries": here in LIBRARIES and (is_capability(there) or there == STORE),
                "no-store": there == STORE
                and here not in {STORE, "backup", "app", "cli", "services"},
                "routes": is_routes(target) and here not in WIRING - {"web"},
            }[rule]
            if bad:
                found.append(f"{module} imports {target}")
    return found


@pytest.mark.parametrize(
    ("rule", "meaning"),
    [
        ("hub", "the hub imports nothing of Qala but itself"),
        ("store", "the store imports only the hub and the shared libraries"),
        ("libraries", "shared libraries import no capability and no store"),
        ("no-store", "only the store, backup and the wiring modules import qala.store"),
        ("routes", "no module imports another capability's routes"),
    ],
)
def test_no_layer_imports_one_above_it(rule: str, meaning: str) -> None:
    assert violations(rule) == [], meaning


def test_the_checker_sees_imports() -> None:
    # The rules above pass vacuously if nothing is read: the hub's face must be seen importing
    # its own modules, and a capability the hub.
    assert "qala.hub.hub" in IMPORTS["qala.hub"]
    assert any(top(t) == HUB for t in IMPORTS["qala.subscriptions.engine"])


def test_no_module_is_longer_than_700_lines() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
