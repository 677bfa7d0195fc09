"""infra/'s folders import one another without a loop: the modules at infra/'s top (the template and what
interprets it) import no folder, and the folders (local, build, apidocs, checks, metrics) form a graph without
cycles, so each can be read, tested and changed with only what it depends on in mind."""

import ast
import re
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
TOP = "infra"  # the modules directly under infra/ (template.py, functions.py, rest_api.py, ...)


def folder_imports(infra: Path) -> dict[str, set[str]]:
    """Each folder (and TOP) -> the other folders its modules import, function-level imports included."""
    graph: dict[str, set[str]] = {}
    for path in sorted(infra.rglob("*.py")):
        relative = path.relative_to(infra)
        here = relative.parts[0] if len(relative.parts) > 1 else TOP
        graph.setdefault(here, set())
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                target = _folder(infra, name)
                if target and target != here:
                    graph[here].add(target)
    return graph


def _folder(infra: Path, module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "infra" or len(parts) < 2:
        return None
    return parts[1] if (infra / parts[1]).is_dir() else TOP


def import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk, as the folders along it (first folder repeated at the end)."""
    loops, done = [], set()

    def walk(folder: str, trail: list[str]) -> None:
        if folder in trail:
            loops.append(trail[trail.index(folder) :] + [folder])
            return
        if folder in done:
            return
        for target in sorted(graph.get(folder, ())):
            walk(target, trail + [folder])
        done.add(folder)

    for folder in sorted(graph):
        walk(folder, [])
    return loops


def test_infra_folders_import_one_another_without_a_loop():
    assert import_loops(folder_imports(INFRA)) == []


def test_the_modules_beside_the_template_import_no_folder():
    assert folder_imports(INFRA)[TOP] == set()


def test_the_rule_sees_every_folder_and_their_real_imports():
    graph = folder_imports(INFRA)
    assert {TOP, "local", "build", "apidocs", "checks", "metrics"} <= set(graph)
    assert {"build", "apidocs", TOP} <= graph["local"]  # the local stack builds packages and serves the docs


@pytest.mark.parametrize(
    ("local_source", "build_source"),
    [
        ("from infra.build.packages import package\n", "from infra.local.stack import run\n"),
        ("import infra.build.packages\n", "def later():\n    from infra.local import stack\n"),
    ],
)
def test_a_loop_between_two_folders_is_caught(tmp_path: Path, local_source: str, build_source: str):
    for folder, source in (("local", local_source), ("build", build_source)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
        (tmp_path / folder / "module.py").write_text(source)
    (tmp_path / "template.py").write_text("")
    assert import_loops(folder_imports(tmp_path)) == [["build", "local", "build"]]


def test_a_module_beside_the_template_that_imports_a_folder_is_caught(tmp_path: Path):
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "stack.py").write_text("from infra.template import load_template\n")
    (tmp_path / "template.py").write_text("from infra.local.stack import run\n")
    assert folder_imports(tmp_path)[TOP] == {"local"}
    assert import_loops(folder_imports(tmp_path)) == [[TOP, "local", TOP]]


def started_folder_modules(module: Path) -> list[str]:
    """The string literals (docstrings aside) of `module` that name a folder's module, e.g. `infra.local.worker`."""
    tree = ast.parse(module.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and re.search(r"\binfra[./](?:local|build|apidocs|checks|metrics)\b", node.value)
    ]


def test_the_modules_beside_the_template_do_not_start_a_folders_module_either():
    """A `python -m infra.local.worker` command line is an import by another name."""
    assert {
        path.name: started_folder_modules(path) for path in INFRA.glob("*.py") if started_folder_modules(path)
    } == {}


def test_a_command_line_naming_a_folders_module_is_caught(tmp_path: Path):
    module = tmp_path / "functions.py"
    module.write_text('"""Used by infra.local."""\n\nCOMMAND = ["python", "-m", "infra.local.worker"]\n')
    assert started_folder_modules(module) == ["infra.local.worker"]
