"""The cost of a million photos on AWS, from a local run's measured figures, beside Rekognition's list price.

    python -m bench.cost --run-dir /tmp/photomod-soak-XXXX     # the run folder `make soak` printed

What is measured (in that run's logs): the classify function's billed duration per photo (every batch the host
invoked: its size and duration, event-sources.log), the API's requests per photo and their durations (api.log),
photos per batch. What comes from the template: each function's MemorySize, the batch size. What is assumed, and
printed as such: AWS list prices (us-east-1, x86, on-demand; check them before quoting), how often a shopper's
page shows an allowed photo (--views-per-photo), the size of a shopper's photo (--photo-mb). DynamoDB item sizes
were measured once from a run's table (docs/benchmark.md says how) and are passed in (--result-item-kb).

Lambda bills duration per millisecond at MemorySize: GB-s per photo = (sum of classify durations / photos) x
MemorySize / 1024. The local host's durations come from a shared 2-core machine, so they are an upper bound of what
a 2048 MB Lambda environment (more than one vCPU) takes.
"""

import argparse
import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from infra.template import LocalNames, ResolvedTemplate, load_template

# us-east-1 list prices (USD), as published on the AWS pricing pages in 2026; free tiers left out.
PRICES = {
    "lambda_gb_s": 0.0000166667,
    "lambda_request": 0.20 / 1e6,
    "api_gateway_rest_request": 3.50 / 1e6,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "s3_gb_month": 0.023,
    "sqs_request": 0.40 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "cloudfront_gb": 0.085,
    "cloudfront_https_request": 0.0100 / 10000,
    "rekognition_moderation_image": 0.001,  # DetectModerationLabels, first million images a month
}
BATCH = re.compile(r"^\[(\w+)\] batch of (\d+): .*\((\d+) ms\)$")
API_LINE = re.compile(r"^(GET|POST) (\S+) -> (\d+) \((\d+) ms\)$")


@dataclass(frozen=True)
class Measured:
    photos: int
    classify_ms_per_photo: float
    photos_per_batch: float
    api_ms_median: float
    polls_per_photo: float
    uploads_presigned: int


def measure(run_dir: Path) -> Measured:
    batches = [
        (int(match[2]), int(match[3]))
        for line in (run_dir / "logs" / "event-sources.log").read_text().splitlines()
        if (match := BATCH.match(line)) and match[1] == "ClassifyFunction"
    ]
    photos = sum(size for size, _ in batches)
    if not photos:
        raise SystemExit(f"{run_dir}: no classify batches in logs/event-sources.log")
    requests = [
        (match[1], match[2], int(match[4]))
        for line in (run_dir / "logs" / "api.log").read_text().splitlines()
        if (match := API_LINE.match(line))
    ]
    gets = sum(1 for method, path, _ in requests if method == "GET" and path.startswith("/predictions/"))
    posts = sum(1 for method, path, _ in requests if method == "POST" and path == "/uploads")
    return Measured(
        photos=photos,
        classify_ms_per_photo=sum(ms for _, ms in batches) / photos,
        photos_per_batch=photos / len(batches),
        api_ms_median=statistics.median(ms for _, _, ms in requests),
        polls_per_photo=gets / photos,
        uploads_presigned=posts,
    )


def memory_mb(template: ResolvedTemplate, logical_id: str) -> int:
    return int(template.resolve(template.resources[logical_id]["Properties"]["MemorySize"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, type=Path)
    parser.add_argument("--photos", type=float, default=1e6)
    parser.add_argument("--views-per-photo", type=float, default=20, help="assumed: shoppers shown each photo")
    parser.add_argument("--photo-mb", type=float, default=2.5, help="assumed: a shopper's phone photo")
    parser.add_argument("--result-item-kb", type=float, default=1.7, help="measured: a classified row")
    parser.add_argument("--pending-item-kb", type=float, default=0.4, help="measured: a pending row")
    parser.add_argument(
        "--polls-per-photo",
        type=float,
        default=3,
        help="GET /predictions per photo: the page polls every 750 ms, upload to result took 1.9 s (median)",
    )
    parser.add_argument(
        "--full-batch-seconds",
        type=float,
        default=3.70,
        help="measured: a full batch of typical photos (python -m bench.batch_times, docs/benchmark.md)",
    )
    options = parser.parse_args(argv)
    measured = measure(options.run_dir)
    template = ResolvedTemplate(load_template(), LocalNames())
    classify_mb, upload_mb = memory_mb(template, "ClassifyFunction"), memory_mb(template, "UploadFunction")
    n = options.photos
    polls = options.polls_per_photo
    api_requests = 1 + polls + options.views_per_photo  # POST /uploads, polls, GET /images/{id} per view
    gb_s_per_photo = measured.classify_ms_per_photo / 1000 * classify_mb / 1024
    upload_gb_s = api_requests * max(1.0, measured.api_ms_median) / 1000 * upload_mb / 1024
    batch_size = int(template.resolve(template.parameters["ClassifyBatchSize"]))
    rows = {
        f"Lambda: classify ({classify_mb} MB, {gb_s_per_photo:.3f} GB-s per photo)": n
        * (gb_s_per_photo * PRICES["lambda_gb_s"] + PRICES["lambda_request"] / measured.photos_per_batch),
        f"Lambda: upload API ({upload_mb} MB, {api_requests:.0f} requests per photo)": n
        * (upload_gb_s * PRICES["lambda_gb_s"] + api_requests * PRICES["lambda_request"]),
        f"API Gateway REST ({api_requests:.0f} requests per photo)": n
        * api_requests
        * PRICES["api_gateway_rest_request"],
        # The presigned POST, the classifier's GET, each view's GET (presigned redirect); a month of storage.
        f"S3 (1 PUT, {1 + options.views_per_photo:.0f} GETs, {options.photo_mb} MB stored a month)": n
        * (
            PRICES["s3_put"]
            + (1 + options.views_per_photo) * PRICES["s3_get"]
            + options.photo_mb / 1024 * PRICES["s3_gb_month"]
        ),
        # S3's SendMessage, then one ReceiveMessage and one DeleteMessageBatch per batch.
        f"SQS (1 send + 2 per batch of {measured.photos_per_batch:.1f})": n
        * (1 + 2 / measured.photos_per_batch)
        * PRICES["sqs_request"],
        # PutItem pending (1 WRU), the result's UpdateItem (the larger of old and new item, per KB), consistent reads
        # per 4 KB: the classifier's look-up and every poll.
        "DynamoDB on demand (writes: pending + result; reads: look-up + polls)": n
        * (
            (math.ceil(options.pending_item_kb) + math.ceil(options.result_item_kb)) * PRICES["dynamodb_write_unit"]
            + (1 + polls) * math.ceil(options.result_item_kb / 4) * PRICES["dynamodb_read_unit"]
        ),
        f"CloudFront (the photo shown {options.views_per_photo:.0f} times)": n
        * options.views_per_photo
        * (options.photo_mb / 1024 * PRICES["cloudfront_gb"] + PRICES["cloudfront_https_request"]),
    }
    total = sum(rows.values())
    print(f"measured in {options.run_dir}: {measured.photos} photos, {measured.photos_per_batch:.2f} a batch")
    print(
        f"  classify: {measured.classify_ms_per_photo:.0f} ms per photo (billed duration of its batches), "
        f"{gb_s_per_photo:.3f} GB-s at {classify_mb} MB"
    )
    full_gb_s = options.full_batch_seconds / batch_size * classify_mb / 1024
    print(f"  full batches of {batch_size} ({options.full_batch_seconds} s each): {full_gb_s:.3f} GB-s per photo")
    print(f"  API: median {measured.api_ms_median:.0f} ms per request (the host's, function and emulator included)")
    print()
    print(f"| {n / 1e6:g} million photos, us-east-1 list prices | USD |")
    print("| --- | ---: |")
    for name, cost in rows.items():
        print(f"| {name} | {cost:,.2f} |")
    print(f"| **photomod, total** | **{total:,.2f}** |")
    costs = list(rows.values())
    print(f"| of which the service without CloudFront (which shows the photos) | {total - costs[-1]:,.2f} |")
    print(f"| of which the classifier itself (Lambda: classify) | {costs[0]:,.2f} |")
    print(
        f"| Rekognition DetectModerationLabels (list price, first million a month) | "
        f"{n * PRICES['rekognition_moderation_image']:,.2f} |"
    )
    print()
    print(
        "| photos per second | classify environments (the run's batches) | (full batches of "
        f"{batch_size}) | upload API environments |"
    )
    print("| ---: | ---: | ---: | ---: |")
    seconds_per_photo = measured.classify_ms_per_photo / 1000
    for rate in (1, 5, 10, 50, 100):
        # Little's law: environments busy = arrivals per second x the seconds each keeps one busy.
        api = rate * api_requests * max(1.0, measured.api_ms_median) / 1000
        full = rate * options.full_batch_seconds / batch_size
        print(f"| {rate} | {math.ceil(rate * seconds_per_photo)} | {math.ceil(full)} | {math.ceil(api)} |")


if __name__ == "__main__":
    main()
