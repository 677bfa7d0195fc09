"""The dead-letter function's settings, apart from classify.settings, which imports the image code."""

from photomod_shared.settings import FunctionSettings, OptionalText


class DeadLetterSettings(FunctionSettings):
    """The dead-letter function's (DeadLetterFunction) environment."""

    # The EventBridge bus the photos it ends failed are announced on; none without it.
    event_bus_name: OptionalText = None
