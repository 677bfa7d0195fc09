"""Reading settings from the environment once, at cold start, failing loudly."""

import os


class MissingSetting(RuntimeError):
    """A required environment variable is absent or malformed."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is required but not set")
    return value


def optional(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def integer(name: str, default: int) -> int:
    raw = optional(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise MissingSetting(f"environment variable {name} must be an integer, got {raw!r}") from None


def integer_between(name: str, default: int, minimum: int, maximum: int) -> int:
    value = integer(name, default)
    if not minimum <= value <= maximum:
        raise MissingSetting(f"environment variable {name} must be between {minimum} and {maximum}, got {value}")
    return value


def flag(name: str, default: bool = False) -> bool:
    raw = optional(name, "true" if default else "false").lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise MissingSetting(f"environment variable {name} must be true or false, got {raw!r}")
    return raw in ("true", "1", "yes")
