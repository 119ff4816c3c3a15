"""One registry mechanism for every extension point, open to other packages.

auditkit's extension points are detectors, input formats, export formats,
report frameworks, report output formats and command-line commands.  Each is a
:class:`Registry`, filled from the Python package entry points of its group:

======================  ==========================  =======================================
registry                entry-point group           an entry point names
======================  ==========================  =======================================
detectors               ``auditkit.detectors``      a module that registers detectors
input formats           ``auditkit.input_formats``  a module that registers input formats
export formats          ``auditkit.export_formats`` a module that registers export formats
report frameworks       ``auditkit.frameworks``     a module that registers frameworks
report output formats   ``auditkit.report_formats`` a module that registers output formats
commands                ``auditkit.commands``       a module that registers CLI commands
======================  ==========================  =======================================

The built-in ones are registered through exactly the same hook: auditkit's own
``pyproject.toml`` declares its modules under those groups, as a third-party
package would declare its own (like datasette's default plugins).  So a package
that wants to add, say, a detector declares::

    [project.entry-points."auditkit.detectors"]
    my_detector = "my_package.detectors"

and decorates its function with ``auditkit.analytics.register_detector`` in that
module; ``auditkit detect --list`` then shows it.

Loading is lazy: a registry imports its entry points the first time it is read,
so that ``auditkit --help`` stays fast.  A plugin that fails to import raises
:class:`~auditkit.errors.UsageError` naming it (a broken plugin is never silently
left out).

Examples
--------
>>> colours: Registry[str] = Registry("colour", group="auditkit.test_colours")
>>> colours.register("red", "#f00")
'#f00'
>>> colours["red"], list(colours), "blue" in colours
('#f00', ['red'], False)
>>> colours["blue"]
Traceback (most recent call last):
...
auditkit.errors.UsageError: unknown colour 'blue'; known: red
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

from auditkit.errors import UsageError

__all__ = ["GROUPS", "Registry", "plugin_entry_points"]

T = TypeVar("T")

#: The entry-point groups auditkit reads, by registry.
GROUPS = {
    "commands": "auditkit.commands",
    "detectors": "auditkit.detectors",
    "export_formats": "auditkit.export_formats",
    "frameworks": "auditkit.frameworks",
    "input_formats": "auditkit.input_formats",
    "report_formats": "auditkit.report_formats",
}


def plugin_entry_points(group: str) -> list[EntryPoint]:
    """The installed entry points of ``group``, sorted by name (auditkit's own first).

    Examples
    --------
    >>> [ep.name for ep in plugin_entry_points("auditkit.detectors")][:2]
    ['accounts', 'auth']
    """
    found = list(entry_points(group=group))
    return sorted(found, key=lambda ep: (not ep.value.startswith("auditkit."), ep.name))


class Registry(Generic[T]):
    """Named items of one kind (detectors, formats, ...), filled from entry points.

    Parameters
    ----------
    kind
        What an item is, for messages (``"detector"``, ``"export format"``).
    group
        The entry-point group whose modules register the items when imported.
    normalize
        Maps a name as given (by a user) to its registry key, e.g. lower case.
    ordered
        List items in the order they were registered instead of by name.
    """

    def __init__(
        self,
        kind: str,
        *,
        group: str,
        normalize: Callable[[str], str] | None = None,
        ordered: bool = False,
    ) -> None:
        self.kind = kind
        self._ordered = ordered
        self.group = group
        self._normalize = normalize or (lambda name: name)
        self._items: dict[str, T] = {}
        self._loaded = False
        self._loading = threading.RLock()

    # -- filling -----------------------------------------------------------------------
    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        """Add ``item`` under ``name`` and return it.

        Registering the same name twice with a different item is an error unless
        ``replace`` (a module imported twice re-registers equal items: allowed).
        """
        key = self._normalize(name)
        known = self._items.get(key)
        if known is not None and not replace and not _same(known, item):
            raise UsageError(f"{self.kind} {name!r} is registered twice")
        self._items[key] = item
        return item

    def unregister(self, name: str) -> T | None:
        """Remove ``name`` (tests, notebooks); return what was registered."""
        return self._items.pop(self._normalize(name), None)

    def load(self) -> None:
        """Import every entry point of the group (once)."""
        if self._loaded:
            return
        with self._loading:
            if self._loaded:
                return
            self._loaded = True  # set first: a plugin may read the registry while loading
            for ep in plugin_entry_points(self.group):
                try:
                    ep.load()
                except Exception as exc:
                    self._loaded = False
                    raise UsageError(
                        f"{self.kind} plugin {ep.name!r} ({ep.value}) failed to load: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc

    # -- reading -----------------------------------------------------------------------
    def all(self) -> dict[str, T]:
        """Every registered item by name, sorted (or in registration order)."""
        self.load()
        return dict(self._items) if self._ordered else dict(sorted(self._items.items()))

    def get(self, name: str) -> T:
        """The item called ``name``, or :class:`UsageError` listing the known names."""
        self.load()
        key = self._normalize(name)
        if key not in self._items:
            known = ", ".join(self.all())
            raise UsageError(f"unknown {self.kind} {name!r}; known: {known}")
        return self._items[key]

    __getitem__ = get

    def __contains__(self, name: object) -> bool:
        self.load()
        return isinstance(name, str) and self._normalize(name) in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self.all())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r})"


def _same(a: object, b: object) -> bool:
    """Whether two registrations are the same item (a module imported twice makes
    equal items with new function objects: compare the functions by name)."""
    if a is b or a == b:
        return True
    fa, fb = getattr(a, "fn", a), getattr(b, "fn", b)
    qa, qb = getattr(fa, "__qualname__", None), getattr(fb, "__qualname__", None)
    return (
        qa is not None and qa == qb and getattr(fa, "__module__", 1) == getattr(fb, "__module__", 2)
    )
