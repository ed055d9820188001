"""The OpenAPI 3.1 document of the service, kept by hand in one place.

A test checks that every route of the app is described here and vice versa.
"""

from __future__ import annotations

from typing import Any

from collector import __version__

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "Machine-readable kind, e.g. validation, bad_json."},
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "description": "For 422: one entry per bad field, e.g. `source` or `[3].action` in a batch.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "details_truncated": {"type": "integer", "description": "Errors not listed (only the first 100 are)."},
    },
}

_NEW_EVENT = {
    "type": "object",
    "required": ["source", "action"],
    "additionalProperties": False,
    "properties": {
        "source": {
            "type": "string",
            "minLength": 1,
            "maxLength": 256,
            "description": "Who sent it (MAX_FIELD_LENGTH).",
        },
        "action": {"type": "string", "minLength": 1, "maxLength": 256, "description": "What happened."},
        "attributes": {"type": "object", "description": "Free-form JSON object (MAX_ATTRIBUTES_BYTES)."},
    },
}

_EVENT = {
    "type": "object",
    "required": ["id", "time", "source", "action", "attributes"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "UUIDv7 assigned by the server."},
        "time": {"type": "string", "format": "date-time", "description": "Stamped by the server, UTC, RFC 3339."},
        "source": {"type": "string"},
        "action": {"type": "string"},
        "attributes": {"type": "object"},
    },
}


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


OPENAPI_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Event collector",
        "version": __version__,
        "description": "Teams POST events and GET recent events back. Events are acknowledged only after commit.",
    },
    "components": {
        "schemas": {"NewEvent": _NEW_EVENT, "Event": _EVENT, "Error": _ERROR},
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "Required for POST when AUTH_TOKENS is set."}
        },
    },
    "paths": {
        "/events": {
            "post": {
                "summary": "Store one event or a batch (atomically).",
                "security": [{}],  # routes.openapi_document() sets the bearer requirement when auth is on
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/NewEvent"},
                                    {
                                        "type": "array",
                                        "minItems": 1,
                                        "maxItems": 1000,
                                        "items": {"$ref": "#/components/schemas/NewEvent"},
                                        "description": "At most MAX_BATCH_SIZE events.",
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "Committed; ids in request order.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["ids"],
                                    "properties": {
                                        "ids": {"type": "array", "items": {"type": "string", "format": "uuid"}}
                                    },
                                }
                            }
                        },
                    },
                    "400": _error_response("Body is not valid JSON."),
                    "401": _error_response("Missing or wrong bearer token (auth enabled)."),
                    "413": _error_response("Body larger than MAX_BODY_BYTES."),
                    "415": _error_response("Content-Type is not application/json."),
                    "422": _error_response("Invalid events; `details` names each bad field. Nothing was stored."),
                    "503": _error_response("Database unavailable, overloaded or draining; retry later."),
                },
            },
            "get": {
                "summary": "Recent events, newest first, with cursor pagination.",
                "parameters": [
                    _query("source", "Only events with this source.", {"type": "string"}),
                    _query("action", "Only events with this action.", {"type": "string"}),
                    _query(
                        "since",
                        "Only events at or after this RFC 3339 time.",
                        {"type": "string", "format": "date-time"},
                    ),
                    _query(
                        "until", "Only events before this RFC 3339 time.", {"type": "string", "format": "date-time"}
                    ),
                    _query("limit", "Page size.", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
                    _query(
                        "cursor", "`next_cursor` of the previous page (repeat the same filters).", {"type": "string"}
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "A page of events.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["events", "next_cursor"],
                                    "properties": {
                                        "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                                        "next_cursor": {
                                            "type": ["string", "null"],
                                            "description": "null on the last page.",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "422": _error_response("Bad query parameter; `details` names it."),
                    "503": _error_response("Database unavailable."),
                },
            },
        },
        "/healthz": {
            "get": {
                "summary": "Liveness: the process and its event loop answer.",
                "responses": {"200": {"description": "Alive."}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: the database answers and the process is not draining.",
                "responses": {
                    "200": {"description": "Ready."},
                    "503": {"description": "Not ready (database down or draining)."},
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text exposition format).",
                "responses": {
                    "200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document.",
                "responses": {"200": {"description": "OpenAPI 3.1 document.", "content": {"application/json": {}}}},
            }
        },
    },
}
