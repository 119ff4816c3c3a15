"""The command-line layer's commands, one module each, registered with
:func:`auditkit.commands.base.command` through the ``auditkit.commands`` entry
points (:mod:`auditkit.plugins`); :func:`auditkit.cli.main` builds its parser
from the registry.

Like the CLI itself, they sit on top of the store, analytics, reports and
export packages; nothing below imports them.
"""
