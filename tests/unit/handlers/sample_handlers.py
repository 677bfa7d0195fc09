"""Handlers the function-host tests run in real worker processes."""

import os
import time


def echo(event, context):
    return {"event": event, "function": context.function_name, "remaining_ms": context.get_remaining_time_in_millis()}


def sleep(event, context):
    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}


def crash(event, context):
    os._exit(3)


def fail(event, context):
    raise ValueError("bad event")


def pid(event, context):
    return os.getpid()


def sleep_after_signal(event, context):
    """Says it has started (a file the test waits for), then sleeps."""
    with open(event["started_file"], "w") as started:
        started.write(str(os.getpid()))
    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}


def allocate(event, context):
    """Allocates and touches event["mb"] MiB (bytes(n) would map zero pages without using them)."""
    block = bytearray(b"\x01") * (event["mb"] * 1024 * 1024)
    return {"allocated_mb": len(block) // (1024 * 1024)}
