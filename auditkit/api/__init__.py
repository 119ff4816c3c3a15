"""The pull API and the web viewer: ``auditkit serve`` (see ``docs/api.md``).

``create_app(store)`` is an ASGI application (FastAPI) over the owner's store
handle; every request acts as the principal of its bearer token, so the store
checks, redacts and records every read.  Needs the ``api`` extra
(``pip install 'auditkit[api]'``).
"""

from auditkit.api._app import MAX_BODY, MAX_PAGE, MAX_PULL, MAX_RECORDS, create_app

__all__ = ["MAX_BODY", "MAX_PAGE", "MAX_PULL", "MAX_RECORDS", "create_app"]
