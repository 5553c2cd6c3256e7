"""The import layers of docs/layout.md, checked by reading every module's imports with ``ast``.

Fails on an import from a higher layer, an import circle between modules, a private name
(``_x``) imported from another module, and an import inside a function that is not one of the
documented exceptions (a comment on the line or the one above it saying why).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("backtests", "signals", "strategies")

# Lower number = lower layer; a module may import its own layer or lower ones only.
LAYERS: dict[str, int] = {
    "backtests": 0,            # the package's __init__ (version only)
    "backtests.core": 0,
    "signals": 1,
    "strategies": 1,
    "backtests.data": 2,
    "backtests.features": 3,
    "backtests.engine": 4,
    "backtests.grid": 5,
    "backtests.reference": 5,
    "backtests.study": 5,
    "backtests.report": 6,
    "backtests.api": 7,
    "backtests.cli": 7,
    "backtests.__main__": 7,
}
# Heavy or optional packages: imported only by these modules (inside the functions that need
# them, or at the top of a module that exists to wrap them, like the backtrader reference).
HEAVY = {
    "backtrader": {"backtests.reference.backtrader"},
    "quantstats": {"backtests.report.metrics", "backtests.report.charts"},
    "dask": {"backtests.grid.dask"},
    "distributed": {"backtests.grid.dask", "signals.parallel"},
    "akshare": {"backtests.data.akshare"},
    "baostock": {"backtests.data.baostock"},
    "matplotlib": {"backtests.report.charts"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> int:
    best = None
    for prefix, rank in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, rank)
    assert best is not None, f"{module} is in no layer of LAYERS"
    return best[1]


class Import(ast.NodeVisitor):
    """Collects (target module, imported names, line, inside a function?) of one module."""

    def __init__(self, module: str, is_package: bool):
        self.module, self.is_package = module, is_package
        self.found: list[tuple[str, list[str], int, bool]] = []
        self.depth = 0
        self.type_checking = 0

    def _in_function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _in_function

    def visit_If(self, node):
        guarded = isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        self.type_checking += guarded
        self.generic_visit(node)
        self.type_checking -= guarded

    def visit_Import(self, node):
        for alias in node.names:
            self.found.append((alias.name, [], node.lineno, self.depth > 0))

    def visit_ImportFrom(self, node):
        base = node.module or ""
        if node.level:
            parts = self.module.split(".")
            keep = len(parts) - node.level + (1 if self.is_package else 0)
            base = ".".join(parts[:keep] + ([base] if base else []))
        names = [a.name for a in node.names]
        self.found.append((base, names, node.lineno, self.depth > 0))


def _imports(module: str):
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    visitor = Import(module, path.name == "__init__.py")
    visitor.visit(tree)
    return visitor.found, path.read_text(encoding="utf-8").splitlines()


def _internal(target: str, names: list[str]) -> list[str]:
    """The project modules an import statement reaches."""
    out = []
    for name in names:
        if f"{target}.{name}" in MODULES:
            out.append(f"{target}.{name}")
    if target in MODULES and (not names or len(out) < len(names)):
        out.append(target)
    return out


def _graph():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    problems: list[str] = []
    for module in MODULES:
        found, lines = _imports(module)
        for target, names, line, in_function in found:
            top = target.split(".")[0]
            where = f"{MODULES[module].relative_to(REPO)}:{line}"
            if in_function:
                text = lines[line - 1] + (lines[line - 2] if line >= 2 else "")
                heavy_owner = HEAVY.get(top)
                if top in PACKAGES and not (module.startswith("backtests.cli")
                                            and target.startswith("backtests.cli")):
                    problems.append(f"{where}: import of {target} inside a function")
                elif heavy_owner is not None and module not in heavy_owner:
                    problems.append(f"{where}: {top} imported outside {sorted(heavy_owner)}")
                elif "#" not in text:
                    problems.append(f"{where}: import inside a function without a comment why")
            elif top in HEAVY and module not in HEAVY[top]:
                problems.append(f"{where}: {top} is heavy; only {sorted(HEAVY[top])} may "
                                "import it")
            for dep in _internal(target, names):
                graph[module].add(dep)
                if layer_of(dep) > layer_of(module):
                    problems.append(f"{where}: {module} (layer {layer_of(module)}) imports "
                                    f"{dep} (layer {layer_of(dep)}): imports go down only")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != module:
                problems.append(f"{where}: private name(s) {private} imported from {target}")
    return graph, problems


GRAPH, PROBLEMS = _graph()


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer_of(module)


def test_imports_go_down_only_with_no_private_names():
    assert PROBLEMS == [], "\n".join(PROBLEMS)


def test_no_import_circles():
    # A package's __init__ importing its own submodules is not a circle of behaviour.
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH[node]):
            if node.startswith(dep + ".") or dep.startswith(node + "."):
                continue
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    sys.setrecursionlimit(10_000)
    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_private_attributes_are_not_reached_across_modules():
    """``module._name`` through an imported module object is as private as importing it."""
    problems = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if f"{node.module}.{alias.name}" in MODULES:
                        imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in MODULES and alias.asname:
                        imported[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in imported and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                problems.append(f"{path.relative_to(REPO)}:{node.lineno}: "
                                f"{node.value.id}.{node.attr}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("argv,banned", [
    (["--help"], ("backtrader", "quantstats", "dask", "matplotlib", "akshare", "numba", "pandas")),
    (["scan", "--date", "2024-03-01"], ("backtrader", "quantstats", "dask", "matplotlib")),
    (["signals", "demo", "--format", "csv"], ("backtrader", "quantstats", "dask", "matplotlib")),
])
def test_light_commands_do_not_load_heavy_packages(argv, banned):
    import subprocess

    code = ("import sys, contextlib, io\n"
            "from backtests.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            f"        main({argv!r})\n"
            "    except SystemExit:\n"
            "        pass\n"
            f"print(sorted(m for m in {banned!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
