"""Pydantic models of the API's request and response bodies, one module per area.

Request models are strict (no type coercion, unknown fields rejected) so the
OpenAPI schema is exactly what the service accepts: a string where the schema
says integer is a 422, never silently converted.
"""
