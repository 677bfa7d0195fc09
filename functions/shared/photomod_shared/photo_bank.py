"""The photo bank: hashes of photos moderators blocked, which classify blocks copies of (classify.photo_bank).

One shape per concept: `BankEntry` is what the reviews function writes when a moderator blocks a photo (or removes
it from the bank) and what classify reads into its in-memory snapshot. A removed entry stays in the table with
`removed_at` (the audit trail, and how a classify snapshot that loaded it learns it is gone). No AWS, no HTTP.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# The bank moderators' blocks fill (the table's partition; banks of other sources could sit beside it).
MODERATOR_BLOCKS = "moderator-blocks"


@dataclass(frozen=True)
class BankEntry:
    image_id: str  # the blocked photo whose hash is banked
    pdq: str  # its PDQ hash (64 hexadecimal characters), as its prediction recorded it
    quality: int
    banked_at: str
    # When the entry last changed (banked or removed): classify reads the bank's changes in this order.
    changed_at: str
    banked_by: dict[str, str] | None = None  # the moderator who blocked it {sub, username}
    note: str = ""
    removed_at: str | None = None
    removed_by: dict[str, str] | None = None

    @property
    def active(self) -> bool:
        return self.removed_at is None

    def to_item(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "BankEntry":
        return cls(**{field.name: item[field.name] for field in fields(cls) if field.name in item})

    def view(self) -> dict[str, Any]:
        """What the API answers about an entry (every field, nulls included)."""
        return asdict(self)
