"""A function whose init (module import) takes INIT_SECONDS."""

import os
import time

time.sleep(float(os.environ["INIT_SECONDS"]))


def handler(event, context):
    return {"pid": os.getpid(), "remaining_ms": context.get_remaining_time_in_millis()}
