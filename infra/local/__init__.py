"""The local stack: plays Lambda, API Gateway and the event sources over an AWS emulator (`make up`, `make invoke`)."""
