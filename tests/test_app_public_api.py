"""The app uses Textual's public API only, so it works with a range of Textual versions, not one.

Every module of viz/app is read (its AST) and checked for private Textual names: an import from a private Textual
module or of a private name; a method that overrides, or an attribute (`self._x`, `super()._x`) that reads or sets,
a private name of a Textual class the class derives from; a private Textual name reached on any other object
(`app._driver`); getattr/setattr with one. A Textual class's private names are those it has (dir: methods, class
attributes) and those its code sets on `self` (instance attributes such as App._driver), through its whole MRO.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from functools import cache
from pathlib import Path

import textual

APP = Path(__file__).resolve().parent.parent / "viz" / "app"


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_textual(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "textual"


@cache
def set_on_self(module: str) -> dict[str, set[str]]:
    """Per class of a Textual module: the private attributes its methods set on `self`."""
    try:
        tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    except (OSError, TypeError):
        return {}
    found: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            names = found.setdefault(node.name, set())
            for sub in ast.walk(node):
                if (isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self"
                        and private(sub.attr)):
                    names.add(sub.attr)
    return found


@cache
def private_names(cls: type) -> frozenset[str]:
    """The private names of the Textual classes in cls's MRO."""
    names: set[str] = set()
    for base in cls.__mro__:
        if is_textual(base):
            names |= {n for n in vars(base) if private(n)}
            names |= set(getattr(base, "__annotations__", {}))
            names |= set(set_on_self(base.__module__).get(base.__name__, ()))
    return frozenset(n for n in names if private(n))


@cache
def all_textual_private_names() -> frozenset[str]:
    names: set[str] = set()
    for cls in textual_classes():
        names |= private_names(cls)
    return frozenset(names)


def textual_classes() -> list[type]:
    import pkgutil

    classes = []
    for info in pkgutil.walk_packages(textual.__path__, "textual."):
        if private(info.name.rsplit(".", 1)[-1]) or ".demo" in info.name or "__main__" in info.name:
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001 - an optional part of Textual (its own extras): not the app's
            continue
        classes += [c for c in vars(module).values() if isinstance(c, type) and is_textual(c)]
    return classes


def private_textual_uses(source: str, namespace: dict, filename: str = "<app>") -> list[str]:
    """What `source` (a module whose names are in `namespace`) uses of Textual's private API."""
    found: list[str] = []
    tree = ast.parse(source)
    anywhere = all_textual_private_names()

    def where(node: ast.AST) -> str:
        return f"{filename}:{node.lineno}"

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "textual":
            if any(private(part) for part in node.module.split(".")):
                found.append(f"{where(node)} imports the private module {node.module}")
            found += [f"{where(node)} imports the private name {a.name}" for a in node.names if private(a.name)]
        elif isinstance(node, ast.Import):
            found += [f"{where(node)} imports the private module {a.name}" for a in node.names
                      if a.name.split(".")[0] == "textual" and any(private(p) for p in a.name.split("."))]
        elif isinstance(node, ast.Attribute) and node.attr in anywhere and not _own(node.value):
            found.append(f"{where(node)} reaches Textual's private {node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in anywhere):
            found.append(f"{where(node)} reaches Textual's private {node.args[1].value} by name")

    def visit_class(node: ast.ClassDef, owner) -> None:
        cls = getattr(owner, node.name, None) if not isinstance(owner, dict) else owner.get(node.name)
        if not isinstance(cls, type):
            return
        names = private_names(cls)
        for item in node.body:
            if isinstance(item, ast.ClassDef):
                visit_class(item, cls)
            elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in names:
                found.append(f"{where(item)} {cls.__name__}.{item.name} overrides Textual's private method")
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and _own(sub.value) and sub.attr in names:
                found.append(f"{where(sub)} {cls.__name__} uses Textual's private {sub.attr}")

    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            visit_class(node, namespace)
    return found


def _own(value: ast.AST) -> bool:
    """`self` or `super()`: the object's own attributes (checked against its class's Textual bases)."""
    return (isinstance(value, ast.Name) and value.id == "self"
            or isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "super")


def test_the_app_uses_no_private_textual_name():
    found = []
    for path in sorted(APP.glob("*.py")):
        if path.stem == "__main__":
            continue  # importing it would run the app
        module = importlib.import_module(f"viz.app.{path.stem}")
        found += private_textual_uses(path.read_text(), vars(module), f"viz/app/{path.name}")
    assert not found, "\n".join(found)


# the private uses the app once had, each as it was written then
ONCE = textwrap.dedent('''
    from textual.app import App
    from textual.screen import Screen
    from textual.scroll_view import ScrollView
    from textual._context import active_app


    class VizApp(App):
        def _watch_input(self):
            driver = self._driver
            send = driver.send_message


    class RunScreen(Screen):
        def _on_timer_update(self):
            super()._on_timer_update()


    class Timeline(ScrollView):
        def grow(self, size):
            self.set_reactive(Timeline.virtual_size, size)
            self._scroll_update(size)


    def text(app):
        return app.screen._compositor.render_strips()
''')


def test_the_check_finds_each_private_use_the_app_once_had():
    namespace: dict = {}
    exec(compile(ONCE, "<once>", "exec"), namespace)
    found = "\n".join(private_textual_uses(ONCE, namespace))
    for what in ("private module textual._context", "VizApp uses Textual's private _driver",
                 "RunScreen._on_timer_update overrides", "RunScreen uses Textual's private _on_timer_update",
                 "Timeline uses Textual's private _scroll_update", "reaches Textual's private _compositor"):
        assert what in found, found
    assert "_watch_input" not in found  # a private name of the app's own is its business
