"""How far shoppers' reports can take photos out of view: the one home of the rule (docs/deploy.md#reports).

A report that a photo is inappropriate hides it (sends it to review) only when all of these hold:
- the photo is shown now: the model allowed it and no moderator has decided on it (a moderator's decision
  stands; later reports are only counted);
- the reporting client address has hidden fewer than `hides_per_address` photos (the template's
  ReportHidesPerAddressPerHour, default DEFAULT_HIDES_PER_ADDRESS) in the current REPORT_WINDOW_SECONDS
  window (fixed windows, counted in DynamoDB, so every function instance shares them).

Every report is stored and counted whatever the limits say (`shopper_reports`; those over the limit also in
`reports_over_limit`), so moderators see how often a photo was reported. The client address is API Gateway's
`requestContext.identity.sourceIp` (the TCP peer, not X-Forwarded-For, which a client can write), stored only
as a hash.
"""

import hashlib
from datetime import datetime
from typing import Protocol

DEFAULT_HIDES_PER_ADDRESS = 5
REPORT_WINDOW_SECONDS = 3600


class HideQuota(Protocol):
    def take(self, key: str, limit: int, expires_at: int) -> bool:
        """Counts one use of `key`'s quota if fewer than `limit` were used; False (nothing counted) otherwise."""
        ...


def address_window_key(source_ip: str, now: datetime) -> tuple[str, int]:
    """The quota key of a client address in the window `now` falls in, and when that window's record may go."""
    window = int(now.timestamp()) // REPORT_WINDOW_SECONDS
    digest = hashlib.sha256(f"photomod-report#{source_ip}".encode()).hexdigest()[:32]
    return f"address#{digest}#{window}", (window + 2) * REPORT_WINDOW_SECONDS


def may_hide(quota: HideQuota, source_ip: str, now: datetime, hides_per_address: int) -> bool:
    key, expires_at = address_window_key(source_ip or "unknown", now)
    return quota.take(key, hides_per_address, expires_at)
