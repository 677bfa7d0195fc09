"""A publisher that records what it was asked to publish and unpublish (photomod_shared.publication.Publisher)."""


class RecordingPublisher:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        # Injected failures: how many of the next publishes (and unpublishes) raise, as S3 would when unreachable.
        self.failing_publishes = 0
        self.failing_unpublishes = 0

    def publish(self, image_id: str, version_id: str | None) -> None:
        if self.failing_publishes:
            self.failing_publishes -= 1
            raise ConnectionError("s3 unreachable (copy)")
        self.calls.append(("publish", image_id, version_id or ""))

    def unpublish(self, image_id: str) -> None:
        self.unpublish_many([image_id])

    def unpublish_many(self, image_ids: list[str]) -> None:
        if not image_ids:
            return
        if self.failing_unpublishes:
            self.failing_unpublishes -= 1
            raise ConnectionError("s3 unreachable (delete)")
        self.calls.extend(("unpublish", image_id) for image_id in image_ids)

    @property
    def published(self) -> set[str]:
        """What a shopper could load now: published and not unpublished since."""
        shown: set[str] = set()
        for call in self.calls:
            (shown.add if call[0] == "publish" else shown.discard)(call[1])
        return shown
