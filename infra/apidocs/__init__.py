"""The API documentation: the OpenAPI document built from the functions' resolvers, and the /docs page."""
