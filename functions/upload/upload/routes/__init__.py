"""The upload function's routes, one Powertools Router per concern; upload.app includes them in one resolver."""
