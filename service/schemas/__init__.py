"""Request and response schemas: the edge of the service, one module per resource,
shared by the API, the console and the CLI. Requests reject unknown fields."""
