"""Built-in input formats, one module each; each registers itself on import.

They are declared under the ``auditkit.input_formats`` entry-point group in
auditkit's ``pyproject.toml``, the hook a third-party format uses too.
"""
