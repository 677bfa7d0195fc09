"""The dead-letter function's settings, apart from classify.settings, which imports the image code."""

from photomod_shared.settings import VerdictEventSettings


class DeadLetterSettings(VerdictEventSettings):
    """The dead-letter function's (DeadLetterFunction) environment."""
