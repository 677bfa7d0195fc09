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


def environment_report(event, context):
    import importlib.util
    import sys

    return {
        "python": list(sys.version_info[:2]),
        "importable": {name: importlib.util.find_spec(name) is not None for name in event["modules"]},
    }


def presign(event, context):
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.generate_presigned_url("get_object", Params={"Bucket": event["bucket"], "Key": event["key"]}, ExpiresIn=60)
    s3.generate_presigned_post(event["bucket"], event["key"], ExpiresIn=60)
    return "signed"
