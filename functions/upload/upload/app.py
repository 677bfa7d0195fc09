"""Upload function: presigns uploads, reports predictions and shows allowed photos (REST API via API Gateway).

One resolver, one error path (photomod_shared.api), and a Powertools Router per concern (upload.routes): uploads,
results, the display gate. Settings and adapters: upload.wiring.

POST /predict has a function of its own (`upload.predict_app`, PredictFunction): it holds an environment while it
waits for the classifier, and must never take those of the result API and the display gate.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from photomod_shared.api import create_resolver
from upload.responses import ERROR_STATUSES
from upload.routes import display_gate, results, uploads
from upload.wiring import settings

logger = Logger()
app = create_resolver(settings.web_origin, ERROR_STATUSES, expose_headers=["Location", "X-Image-Id", "X-Error-Code"])
app.include_router(uploads.router)
app.include_router(results.router)
app.include_router(display_gate.router)


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
