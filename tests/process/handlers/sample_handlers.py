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


def hold_until_released(event, context):
    """Says it has started (writes its pid to a file the test waits for), then holds its environment until the
    test creates the release file (at most a minute)."""
    with open(event["started_file"], "w") as started:
        started.write(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not os.path.exists(event["release_file"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


def allocate(event, context):
    """Allocates and touches event["mb"] MiB (bytes(n) would map zero pages without using them)."""
    block = bytearray(b"\x01") * (event["mb"] * 1024 * 1024)
    return {"allocated_mb": len(block) // (1024 * 1024)}


def record_batch(event, context):
    """Appends each message id to RECORD_FILE; on a first delivery whose body says so, dies first.

    {"die": "crash"} exits the process; {"die": "memory", "mb": N} allocates past the memory size;
    {"die": "hang", "started_file": path} signals and waits to be killed by the test.
    """
    import json

    for record in event["Records"]:
        body = json.loads(record["body"])
        if record["attributes"]["ApproximateReceiveCount"] == "1":
            if body.get("die") == "crash":
                os._exit(9)
            if body.get("die") == "memory":
                allocate({"mb": body["mb"]}, context)
            if body.get("die") == "hang":
                with open(body["started_file"], "w") as started:
                    started.write(str(os.getpid()))
                time.sleep(300)
    with open(os.environ["RECORD_FILE"], "a") as record_file:
        for record in event["Records"]:
            record_file.write(f"{record['messageId']} {record['attributes']['ApproximateReceiveCount']}\n")
    return {"batchItemFailures": []}


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
