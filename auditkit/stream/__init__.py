"""Push streaming: send a store's verified events to SIEMs with durable delivery.

``auditkit stream STORE --to DESTINATION`` (see :mod:`auditkit.commands.stream`)
and, from Python::

    from auditkit.stream import load_destinations, open_destination, stream_store
    dest = open_destination(load_destinations("stream.toml")["splunk"])
    print(stream_store(store, dest).summary())

Destinations (:mod:`auditkit.stream.destinations`), batches and the webhook
signature (:mod:`auditkit.stream.batches`), the loop and its guarantees
(:mod:`auditkit.stream.sender`).  ``docs/siem.md`` has a recipe per SIEM.
"""

from auditkit.stream.batches import (
    REPLAY_WINDOW,
    Batch,
    SignatureMismatch,
    sign_request,
    verify_request,
)
from auditkit.stream.destinations import (
    DESTINATION_TYPES,
    DeliveryError,
    Destination,
    DestinationConfig,
    load_destinations,
    open_destination,
    url_destination,
)
from auditkit.stream.sender import StreamError, StreamResult, stream_once, stream_store

__all__ = [
    "DESTINATION_TYPES",
    "REPLAY_WINDOW",
    "Batch",
    "DeliveryError",
    "Destination",
    "DestinationConfig",
    "SignatureMismatch",
    "StreamError",
    "StreamResult",
    "load_destinations",
    "open_destination",
    "sign_request",
    "stream_once",
    "stream_store",
    "url_destination",
    "verify_request",
]
