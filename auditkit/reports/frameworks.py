"""The built-in compliance frameworks: one per catalog in ``catalogs/*.yaml``.

Declared under the ``auditkit.frameworks`` entry-point group in auditkit's
``pyproject.toml``, as a third-party package declares its own catalogs.
"""

from auditkit.reports.catalog import register_builtin_catalogs

register_builtin_catalogs()
