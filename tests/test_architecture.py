"""The package's structure: imports point one way, and the lab's steps are listed in one place (the plan)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "mnistlab"


def _modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def import_graph() -> dict[str, set[str]]:
    """{module: the mnistlab modules it imports}, every import counted (module level or inside a function)."""
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(resolve(a.name) for a in node.names if a.name.startswith("mnistlab"))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("mnistlab"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    deps.add(full if full in mods else resolve(node.module))
        graph[name] = {d for d in deps if d and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    assert cycles(import_graph()) == []


def test_the_lab_plan_imports_nothing_above_the_config():
    allowed = {"mnistlab.errors"}
    assert import_graph()["mnistlab.lab.plan"] <= allowed


def test_the_words_lookup_imports_nothing_but_the_errors():
    """Every layer asks i18n for its words, so i18n must sit below them all."""
    assert import_graph()["mnistlab.i18n"] <= {"mnistlab.errors"}


def test_producers_never_import_their_readers():
    graph = import_graph()
    for module, deps in graph.items():
        if module.startswith(("mnistlab.train", "mnistlab.runner", "mnistlab.config", "mnistlab.data")):
            assert not [d for d in deps if d.startswith(("mnistlab.report", "mnistlab.notebook", "mnistlab.web"))], \
                module


def test_step_names_are_not_listed_outside_the_plan():
    """A tuple, list, set or dict whose items (or keys) are three or more of the lab's steps is a table the
    plan should give."""
    from mnistlab.lab import plan

    steps = set(plan.step_names())
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
            if not isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)) or not items:
                continue
            found = {i.value for i in items if isinstance(i, ast.Constant) and i.value in steps}
            assert len(found) < 3, f"{path.relative_to(SRC)}:{node.lineno} lists {sorted(found)}"


def _spells_a_step(value: str, steps: set[str]) -> bool:
    """A step's name, a file under its folder (``ex1/history.csv``) or one of its code blocks (``ex1.fit``)."""
    return value in steps or any(value.startswith((s + "/", s + ".")) and value not in steps and
                                 value.split(".")[-1].isalpha() and value.count(".") == s.count(".") + 1
                                 for s in steps)


def test_at_most_four_modules_spell_a_steps_name():
    """Outside their docstrings, only these modules name a lab step: the capture of the notebook's cells (the
    lab's data checks, predictions and "what if" cells) and one anchor of the report. Everything else takes
    the steps from the plan, the experiment files and the code blocks' names in ``tp2.fr.md``."""
    from mnistlab.lab import plan

    steps = set(plan.step_names())
    spelling = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(node.body[0].value) for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        if any(isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
               and _spells_a_step(n.value, steps) for n in ast.walk(tree)):
            spelling.add(str(path.relative_to(SRC)))
    assert len(spelling) <= 4, sorted(spelling)
    assert spelling <= {"mnistlab/notebook/capture.py", "mnistlab/report/exercises.py"}, sorted(spelling)
