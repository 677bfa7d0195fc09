"""The functions' CloudWatch metrics (EMF lines in the local logs), summarised (`make stats`)."""
