from dataclasses import dataclass

from classify.imaging import RESIZE_METHODS, ImageLimits
from classify.model import CLASSIFIERS, RESNET50, RUNTIME_LITERT, RUNTIMES
from photomod_shared import settings

MIB = 1024 * 1024


@dataclass(frozen=True)
class ClassifySettings:
    predictions_table: str
    # Where a photo handed back unstarted is sent again (classify.storage.ClassifyQueue).
    classify_queue_url: str
    # Which ImageNet network judges (classify.model.CLASSIFIERS): the template's Classifier parameter.
    classifier: str
    model_runtime: str
    model_weights_path: str | None
    served_model_path: str | None
    allow_untrained_weights: bool
    safety_model_path: str | None
    allow_missing_safety_model: bool
    resize_method: str
    limits: ImageLimits
    decode_threads: int
    # Estimated decoded bytes in flight at once (classify.service.DecodeBudget).
    decode_budget_bytes: int
    # Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE from the function's MemorySize.
    memory_limit_bytes: int

    @classmethod
    def from_environment(cls) -> "ClassifySettings":
        resize_method = settings.optional("RESIZE_METHOD", "nearest")
        if resize_method not in RESIZE_METHODS:
            raise settings.MissingSetting(f"RESIZE_METHOD must be one of {', '.join(RESIZE_METHODS)}")
        model_runtime = settings.optional("MODEL_RUNTIME", RUNTIME_LITERT)
        if model_runtime not in RUNTIMES:
            raise settings.MissingSetting(f"MODEL_RUNTIME must be one of {', '.join(RUNTIMES)}")
        classifier = settings.optional("CLASSIFIER", RESNET50)
        if classifier not in CLASSIFIERS:
            raise settings.MissingSetting(f"CLASSIFIER must be one of {', '.join(CLASSIFIERS)}, not {classifier!r}")
        defaults = ImageLimits()
        memory_mb = settings.integer("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 2048)
        return cls(
            predictions_table=settings.required("PREDICTIONS_TABLE"),
            classify_queue_url=settings.required("CLASSIFY_QUEUE_URL"),
            classifier=classifier,
            model_runtime=model_runtime,
            model_weights_path=settings.optional("MODEL_WEIGHTS_PATH", "") or None,
            served_model_path=settings.optional("SERVED_MODEL_PATH", "") or None,
            allow_untrained_weights=settings.flag("ALLOW_UNTRAINED_WEIGHTS"),
            safety_model_path=settings.optional("SAFETY_MODEL_PATH", "") or None,
            allow_missing_safety_model=settings.flag("ALLOW_MISSING_SAFETY_MODEL"),
            resize_method=resize_method,
            limits=ImageLimits(
                max_bytes=settings.integer("MAX_IMAGE_BYTES", defaults.max_bytes),
                min_side=settings.integer("MIN_IMAGE_SIDE", defaults.min_side),
                max_pixels=settings.integer("MAX_IMAGE_PIXELS", defaults.max_pixels),
            ),
            decode_threads=settings.integer("DECODE_THREADS", 4),
            # A third of the function's memory by default: the model and its activations need the rest.
            decode_budget_bytes=settings.integer("DECODE_BUDGET_MB", max(1, memory_mb // 3)) * MIB,
            memory_limit_bytes=memory_mb * MIB,
        )
