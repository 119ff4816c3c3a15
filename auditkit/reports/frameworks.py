"""The built-in compliance frameworks: one per catalog in ``catalogs/*.yaml``.

Declared under the ``auditkit.frameworks`` entry-point group in auditkit's
``pyproject.toml``, as a third-party package declares its own catalogs.  The
catalogs are checked against the rules and sections here, above both, so that
the catalog module itself depends on neither.
"""

from auditkit.reports.catalog import register_builtin_catalogs
from auditkit.reports.rules import available_rules
from auditkit.reports.sections import available_sections

register_builtin_catalogs(rules=available_rules(), sections=available_sections())
