"""The package's layers: no module imports its way back to itself, and the commands that only
read results load no torch."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "arc_seal"


def _imports(path: Path) -> set[str]:
    """The package modules ``path`` imports anywhere (in functions too), but not those named
    only for type checking."""
    found = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and (child.module or "").startswith("arc_seal"):
                parts = child.module.split(".")
                found.update(parts[1:2] or [a.name for a in child.names])
            elif isinstance(child, ast.Import):
                names = [a.name.split(".") for a in child.names]
                found.update(n[1] for n in names if n[0] == "arc_seal" and len(n) > 1)
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def test_no_module_of_the_package_imports_its_way_back_to_itself():
    graph = {p.stem: _imports(p) for p in PACKAGE.glob("*.py")}
    assert len(graph) > 20 and "jobs" in graph["seal"]  # the walk sees the package

    def reaches(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert [m for m in sorted(graph) if m in reaches(m)] == []


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(done.stdout.split())


def test_comparing_runs_and_drawing_a_task_load_no_torch(tmp_path, whole_run):
    inputs, run_dir, _ = whole_run
    task = next((inputs["subset"].parent / "tasks").glob("*.json"))
    for command in (
        ["compare", str(run_dir), str(run_dir)],
        ["show", str(task), "--out", str(tmp_path / "task.png")],
    ):
        loaded = _modules_after(
            "from arc_seal.cli import main\n"
            f"try:\n    main({command!r})\nexcept SystemExit as e:\n    assert e.code == 0, e"
        )
        assert "arc_seal.cli" in loaded and "torch" not in loaded, command
    loaded = _modules_after("import arc_seal.report")
    assert "arc_seal.report" in loaded and "torch" not in loaded


def test_no_function_of_the_package_or_its_scripts_runs_over_80_lines():
    long = []
    for path in [*PACKAGE.glob("*.py"), *(PACKAGE.parent / "scripts").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{path.name}:{node.name}")
    assert long == []
