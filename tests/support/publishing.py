"""A publisher that records what it was asked to publish and unpublish (photomod_shared.publication.Publisher)."""


class RecordingPublisher:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def publish(self, image_id: str, version_id: str | None) -> None:
        self.calls.append(("publish", image_id, version_id or ""))

    def unpublish(self, image_id: str) -> None:
        self.calls.append(("unpublish", image_id))
