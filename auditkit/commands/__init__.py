"""The command-line layer's commands, one module each, registered with
:func:`auditkit.cli.command` when :func:`auditkit.cli.main` builds its parser.

Like the CLI itself, they sit on top of the store, analytics, reports and
export packages; nothing below imports them.
"""

from importlib import import_module

#: Command modules, imported (and so registered) by ``auditkit.cli``.
MODULES = ("detect", "export", "report")


def load() -> None:
    """Import every command module (each registers its commands)."""
    for name in MODULES:
        import_module(f"auditkit.commands.{name}")
