"""The base of every function's settings: read from the environment once, at cold start, frozen, failing loudly.

pydantic-settings reads and validates the environment (a field `images_bucket` is the variable IMAGES_BUCKET, as
template.yaml names it); this module adds only what the functions share: the variables every function gets (the
template's Globals), an empty variable meaning unset, and one error naming each missing or invalid variable.
"""

from collections.abc import Callable, Collection
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, StringConstraints, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# A required text setting: surrounding blanks dropped, never empty.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _blank_is_none(value: Any) -> Any:
    return (value.strip() or None) if isinstance(value, str) else value


# An optional text setting: surrounding blanks dropped; blank means unset (None).
OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none)]


class MissingSetting(RuntimeError):
    """A required environment variable is absent, or one is malformed; the message names each."""


def one_of(choices: Collection[str]) -> Callable[[str], str]:
    """A validator: the value must be one of `choices` (named in the error)."""

    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    return check


def _describe(error: dict[str, Any]) -> str:
    name = ".".join(str(part) for part in error.get("loc", ())).upper() or "?"
    if error.get("type") == "missing":
        return f"environment variable {name} is required but not set"
    reason = error.get("ctx", {}).get("error") if error.get("type") == "value_error" else None
    return f"environment variable {name} is invalid ({error.get('input')!r}): {reason or error.get('msg')}"


class FunctionSettings(BaseSettings):
    """What every function is given (template.yaml's Globals: Function: Environment)."""

    # An empty variable counts as unset (the default applies; a required one is missing); the object is frozen.
    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, extra="ignore")

    predictions_table: Text
    images_bucket: Text

    @classmethod
    def from_environment(cls) -> Self:
        """The settings of this process's environment; MissingSetting names every variable at fault."""
        try:
            return cls()  # type: ignore[call-arg]  # the fields come from the environment
        except ValidationError as invalid:
            raise MissingSetting("; ".join(_describe(dict(error)) for error in invalid.errors())) from None


class ApiSettings(FunctionSettings):
    """What every function behind the REST API is given besides."""

    # The web page's origin, for CORS (the local stack gives both its loopback addresses, comma-separated).
    web_origin: Text


class VerdictEventSettings(FunctionSettings):
    """What a function that announces outcomes is given besides (photomod_shared.verdict_events)."""

    # The EventBridge bus the verdict events go to; none are sent without it.
    event_bus_name: OptionalText = None
    # The SQS queue keeping the events EventBridge refused, to be put again (reconcile.outbox).
    verdict_outbox_url: OptionalText = None


class PublishingSettings(FunctionSettings):
    """What a function that publishes or unpublishes renditions is given besides (photomod_shared.publication)."""

    # The CDN that serves published photos, whose cache an unpublish invalidates; empty locally (no CDN).
    photos_distribution_id: OptionalText = None
