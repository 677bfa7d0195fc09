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
