"""Lambda proxy handlers for the API tests that run real worker processes."""

import json
import time


def slow(event, context):
    """Sleeps the body's "seconds"; with a "started_file", first writes it (the signal that the request runs)."""
    body = json.loads(event["body"] or "{}")
    if "started_file" in body:
        with open(body["started_file"], "w") as started:
            started.write("started")
    time.sleep(body.get("seconds", 0))
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
