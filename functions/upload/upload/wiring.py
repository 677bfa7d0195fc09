"""The upload function's (UploadFunction) settings and adapters, for its routers (upload.routes) and app.py: the
settings read at cold start, each adapter built on its first use (importing the module makes no clients)."""

from photomod_shared.clients import AwsClients, lazy
from photomod_shared.tables import PredictionTable
from upload.settings import UploadSettings
from upload.storage import image_store

settings = UploadSettings.from_environment()
aws = AwsClients()
store = lazy(lambda: image_store(aws, settings))
predictions = lazy(lambda: PredictionTable(aws.table(settings.predictions_table)))
