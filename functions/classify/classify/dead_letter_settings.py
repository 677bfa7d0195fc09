"""The dead-letter function's settings, apart from classify.settings, which imports the image code."""

from photomod_shared.settings import PublishingSettings, VerdictEventSettings


class DeadLetterSettings(VerdictEventSettings, PublishingSettings):
    """The dead-letter function's (DeadLetterFunction) environment."""
