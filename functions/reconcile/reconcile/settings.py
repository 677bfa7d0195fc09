from pydantic import Field

from photomod_shared.settings import FunctionSettings, Text, VerdictEventSettings


class ReconcileSettings(VerdictEventSettings):
    """The reconciler's (ReconcileFunction) environment."""

    classify_queue_url: Text
    # A photo pending longer than this is looked at; above the queue's own retries (visibility x receives).
    pending_after_seconds: int = Field(900, ge=10, le=7 * 86400)
    # Re-queued this many times and still pending: the photo ends failed rather than loop forever.
    max_requeues: int = Field(3, ge=0, le=100)
    # Lambda sets it; the queue's messages name the bucket's region.
    aws_region: Text = "us-east-1"


class VerdictOutboxSettings(FunctionSettings):
    """The outbox function's (VerdictOutboxFunction, reconcile.outbox) environment."""

    # The stack's bus, where every kept event is put again.
    event_bus_name: Text
