"""JupyterLab widgets: the Explorer, the Findings browser, the Integrity panel and
the Report builder (ipywidgets; charts that work offline).

>>> import auditkit.widgets as widgets
>>> sorted(widgets.__all__) == widgets.__all__
True
"""

try:
    import ipywidgets  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in tests/test_install.py
    raise ImportError(
        "auditkit.widgets needs the notebook extra: pip install 'auditkit[notebook]'"
    ) from exc

from auditkit.widgets._filters import FilterState, add_search_columns, search_terms
from auditkit.widgets.explorer import Explorer
from auditkit.widgets.findings import FindingsBrowser
from auditkit.widgets.integrity import IntegrityPanel
from auditkit.widgets.report_builder import ReportBuilder

__all__ = [
    "Explorer",
    "FilterState",
    "FindingsBrowser",
    "IntegrityPanel",
    "ReportBuilder",
    "add_search_columns",
    "search_terms",
]
