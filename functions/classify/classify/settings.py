from dataclasses import dataclass

from classify.imaging import ANTIALIASED_RESIZE_METHODS, DEFAULT_RESIZE_METHOD, ImageLimits
from classify.model import CLASSIFIERS, RESNET50, RUNTIME_LITERT, RUNTIMES
from classify.rendition import RenditionRules
from photomod_shared import settings

MIB = 1024 * 1024


@dataclass(frozen=True)
class ClassifySettings:
    predictions_table: str
    images_bucket: str
    # Where a photo handed back unstarted is sent again (classify.storage.ClassifyQueue).
    classify_queue_url: str
    # Which ImageNet network judges (classify.model.CLASSIFIERS): the template's Classifier parameter.
    classifier: str
    model_runtime: str
    model_weights_path: str | None
    served_model_path: str | None
    allow_untrained_weights: bool
    safety_model_path: str | None
    # Both explicit-content models: nsfwjs (SAFETY_MODEL_PATH) and Open-NSFW, the second opinion.
    allow_missing_safety_model: bool
    open_nsfw_model_path: str | None
    resize_method: str
    limits: ImageLimits
    renditions: RenditionRules
    decode_threads: int
    # Estimated decoded bytes in flight at once (classify.service.DecodeBudget).
    decode_budget_bytes: int
    # Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE from the function's MemorySize.
    memory_limit_bytes: int
    # The shop's own policy document (SSM Parameter Store); without it, only the built-in policy.
    policy_parameter: str | None = None
    policy_cache_seconds: int = 60
    # The EventBridge bus verdict events go to; without it, none are sent.
    event_bus_name: str | None = None
    # The SQS queue keeping the events EventBridge refused, to be put again (photomod_shared.verdict_events).
    verdict_outbox_url: str | None = None

    @classmethod
    def from_environment(cls) -> "ClassifySettings":
        resize_method = settings.optional("RESIZE_METHOD", DEFAULT_RESIZE_METHOD)
        if resize_method not in ANTIALIASED_RESIZE_METHODS:
            # nearest (Keras' default) reads a fixed few pixels of a large photo: an attacker could steer it.
            raise settings.MissingSetting(
                f"RESIZE_METHOD must be one of {', '.join(ANTIALIASED_RESIZE_METHODS)} (filters that read every pixel)"
            )
        model_runtime = settings.optional("MODEL_RUNTIME", RUNTIME_LITERT)
        if model_runtime not in RUNTIMES:
            raise settings.MissingSetting(f"MODEL_RUNTIME must be one of {', '.join(RUNTIMES)}")
        classifier = settings.optional("CLASSIFIER", RESNET50)
        if classifier not in CLASSIFIERS:
            raise settings.MissingSetting(f"CLASSIFIER must be one of {', '.join(CLASSIFIERS)}, not {classifier!r}")
        defaults = ImageLimits()
        rendition_defaults = RenditionRules()
        memory_mb = settings.integer("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 2048)
        return cls(
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            images_bucket=settings.required("IMAGES_BUCKET"),
            classify_queue_url=settings.required("CLASSIFY_QUEUE_URL"),
            classifier=classifier,
            model_runtime=model_runtime,
            model_weights_path=settings.optional("MODEL_WEIGHTS_PATH", "") or None,
            served_model_path=settings.optional("SERVED_MODEL_PATH", "") or None,
            allow_untrained_weights=settings.flag("ALLOW_UNTRAINED_WEIGHTS"),
            safety_model_path=settings.optional("SAFETY_MODEL_PATH", "") or None,
            allow_missing_safety_model=settings.flag("ALLOW_MISSING_SAFETY_MODEL"),
            open_nsfw_model_path=settings.optional("OPEN_NSFW_MODEL_PATH", "") or None,
            resize_method=resize_method,
            limits=ImageLimits(
                max_bytes=settings.integer("MAX_IMAGE_BYTES", defaults.max_bytes),
                min_side=settings.integer("MIN_IMAGE_SIDE", defaults.min_side),
                max_pixels=settings.integer("MAX_IMAGE_PIXELS", defaults.max_pixels),
            ),
            renditions=RenditionRules(
                long_side=settings.integer_between("RENDITION_LONG_SIDE", rendition_defaults.long_side, 224, 8192),
                max_frames=settings.integer_between("RENDITION_MAX_FRAMES", rendition_defaults.max_frames, 1, 1000),
            ),
            decode_threads=settings.integer("DECODE_THREADS", 4),
            # A third of the function's memory by default: the model and its activations need the rest.
            decode_budget_bytes=settings.integer("DECODE_BUDGET_MB", max(1, memory_mb // 3)) * MIB,
            memory_limit_bytes=memory_mb * MIB,
            policy_parameter=settings.optional("POLICY_PARAMETER", "") or None,
            policy_cache_seconds=settings.integer_between("POLICY_CACHE_SECONDS", 60, 1, 3600),
            event_bus_name=settings.optional("EVENT_BUS_NAME", "") or None,
            verdict_outbox_url=settings.optional("VERDICT_OUTBOX_URL", "") or None,
        )
