"""Reading a student's Python through its syntax tree: the statements in order, a call's arguments, literal
values, and the names Keras accepts for activations, optimizers and losses (:mod:`mnistlab.grade.parse` uses
them to read the lab's calls whatever the layout)."""

from __future__ import annotations

import ast
import re


def first_use(tree: ast.AST, names: tuple[str, ...]) -> int:
    """The first line of a cell's code that names one of ``names`` (a name or an attribute)."""
    return min((n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in names
                or isinstance(n, ast.Attribute) and n.attr in names), default=0)


def line(node: ast.AST, number: int, lines: list[str]) -> str:
    """``cell N: the line of code`` holding ``node`` (the evidence quoted in feedback)."""
    n = getattr(node, "lineno", 0)
    return f"cell {number}: {lines[n - 1].strip()[:120]}" if 0 < n <= len(lines) else f"cell {number}"


def statements(node: ast.AST):
    """Assignments and expression statements in source order (loops and branches included)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Assign, ast.Expr, ast.AnnAssign)):
            yield child
        elif isinstance(child, ast.stmt) and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                    ast.ClassDef)):
            yield from statements(child)


def args(call: ast.Call, positional: tuple[str, ...]) -> dict[str, ast.expr]:
    out = {name: arg for name, arg in zip(positional, call.args, strict=False) if not isinstance(arg, ast.Starred)}
    out.update({k.arg: k.value for k in call.keywords if k.arg})
    return out


def value(node: ast.expr | None):
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return compact(node)


def compact(node: ast.expr) -> str:
    return re.sub(r"\s+", "", ast.unparse(node))


def activation(node: ast.expr | None) -> str | None:
    v = value(node)
    return v.lower() if isinstance(v, str) else None


def optimizer(node: ast.expr):
    """``'adam'``; ``Adam(learning_rate=0.01)`` -> ``'adam(learning_rate=0.01)'``; the default rate dropped."""
    if isinstance(node, ast.Call):
        name = (node.func.attr if isinstance(node.func, ast.Attribute) else
                node.func.id if isinstance(node.func, ast.Name) else "?").lower()
        kw = {k.arg: value(k.value) for k in node.keywords if k.arg}
        if node.args:
            kw.setdefault("learning_rate", value(node.args[0]))
        if name == "adam" and kw.get("learning_rate") in (0.001, 1e-3):
            kw.pop("learning_rate")
        return name + (f"({', '.join(f'{k}={v}' for k, v in sorted(kw.items()))})" if kw else "")
    v = value(node)
    return v.lower() if isinstance(v, str) else v


def loss(node: ast.expr):
    """``'categorical_crossentropy'``; ``CategoricalCrossentropy()`` or ``losses.categorical_crossentropy`` the
    same name (the class's CamelCase as snake_case)."""
    if isinstance(node, ast.Call) and not node.args and not node.keywords:
        node = node.func
    if isinstance(node, (ast.Attribute, ast.Name)):
        name = node.attr if isinstance(node, ast.Attribute) else node.id
        return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()
    return value(node)


def first(v):
    if isinstance(v, (tuple, list)) and v:
        v = v[0]
    return v if isinstance(v, int) else None
