"""Lambda proxy handlers for the API tests that run real worker processes."""

import json
import time


def slow(event, context):
    time.sleep(json.loads(event["body"] or "{}").get("seconds", 0))
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
