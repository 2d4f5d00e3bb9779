"""GET /api/v1/openapi.json: the API described in OpenAPI 3.1, kept beside the routes it documents."""

from __future__ import annotations

from flask import jsonify

from factory.api import api, openapi_bookings, openapi_ledger, openapi_plan, openapi_production
from factory.domain.vocabulary import MachineKind, MachineState


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _query(name: str, description: str, enum: list[str] | None = None) -> dict:
    schema: dict = {"type": "string"}
    if enum:
        schema["enum"] = enum
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


NULLABLE_INT = {"type": ["integer", "null"]}

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "microfactory API", "version": "1",
             "description": "The commune's machines, bookings, orders and plans. Authenticate with "
                            "`Authorization: Bearer TOKEN`; `factory create-token LOGIN` issues a token."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": {
        "/machines": {"get": {
            "operationId": "listMachines",
            "summary": "Every machine of the commune, by site and name",
            "parameters": [
                _query("site", "site slug"),
                _query("kind", "machine kind", [k.value for k in MachineKind]),
                _query("state", "current state (DESIGN.md 4.1)", [s.value for s in MachineState]),
            ],
            "responses": {
                "200": {"description": "the machines", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["items", "count"],
                    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Machine"}},
                                   "count": {"type": "integer"}}}}}},
                "400": _error("an unknown filter or a value outside its vocabulary"),
                "401": _error("no token, or a revoked or unknown one"),
            },
        }},
        "/machines/{machine_id}": {"get": {
            "operationId": "getMachine",
            "summary": "One machine",
            "parameters": [{"name": "machine_id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,64}$"}}],
            "responses": {
                "200": {"description": "the machine",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Machine"}}}},
                "401": _error("no token, or a revoked or unknown one"),
                "404": _error("no machine with this id"),
            },
        }},
        "/machines/{machine_id}/telemetry": {"get": {
            "operationId": "getMachineTelemetry",
            "summary": "A machine's telemetry samples in a time window, oldest first",
            "description": "Raw samples for the last hours; older ones are means over buckets "
                           "(`resolution_s`), and samples past the retention period are gone.",
            "parameters": [
                {"name": "machine_id", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,64}$"}},
                _query("since", "RFC 3339 time, inclusive; default six hours before `until`"),
                _query("until", "RFC 3339 time, exclusive; default now"),
                _query("metric", "a metric name such as hotend_c; repeat or separate by commas for several"),
            ],
            "responses": {
                "200": {"description": "the samples", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Telemetry"}}}},
                "400": _error("a malformed time, a window that ends before it starts or spans over 31 days, "
                              "a malformed metric name"),
                "401": _error("no token, or a revoked or unknown one"),
                "404": _error("no machine with this id"),
            },
        }},
        **openapi_bookings.PATHS,
        **openapi_production.PATHS,
        **openapi_plan.PATHS,
        **openapi_ledger.PATHS,
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1 document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "field": {"type": "string"}}}}},
            "Machine": {
                "type": "object",
                "required": ["id", "name", "kind", "site", "capabilities", "state", "state_since"],
                "properties": {
                    "id": {"type": "string", "description": "slug, also the machine's MQTT id"},
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": [k.value for k in MachineKind]},
                    "model": {"type": "string"},
                    "site": {"type": "object", "properties": {
                        "slug": {"type": "string"}, "name": {"type": "string"},
                        "time_zone": {"type": "string", "description": "IANA name"}}},
                    "capabilities": {"type": "object", "properties": {
                        "build_volume_mm": {"type": ["array", "null"], "items": {"type": "integer"},
                                            "minItems": 3, "maxItems": 3},
                        "materials": {"type": "array", "items": {"type": "string"}},
                        "max_temperature_c": NULLABLE_INT,
                        "spindle_power_w": NULLABLE_INT}},
                    "unattended_ok": {"type": "boolean"},
                    "acquisition": {"type": "object", "properties": {
                        "cost": {"type": ["string", "null"], "description": "decimal, two places"},
                        "currency": {"type": ["string", "null"]},
                        "date": {"type": ["string", "null"], "format": "date"}}},
                    "state": {"type": "string", "enum": [s.value for s in MachineState]},
                    "state_since": {"type": "string", "format": "date-time"},
                    "available": {"type": "boolean", "description": "false when offline, in fault or maintenance"},
                    "job": {"type": ["string", "null"], "description": "the job the machine last reported"},
                    "progress": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                    "state_detail": {"type": "string"},
                    "last_seen": {"type": ["string", "null"], "format": "date-time",
                                  "description": "when the ingest last heard from the machine"},
                    "metrics": {"type": "object", "additionalProperties": {"type": "number"},
                                "description": "latest value of each metric, e.g. hotend_c"},
                    "metrics_at": {"type": ["string", "null"], "format": "date-time"},
                    "notes": {"type": "string"},
                    "expected_back_at": {"type": ["string", "null"], "format": "date-time",
                                         "description": "when a machine in fault or maintenance should be usable "
                                                        "again, as a steward said; bookings may start from then"},
                    "booking_rules": {"type": "object", "properties": {
                        "min_minutes": {"type": "integer"}, "max_minutes": {"type": "integer"},
                        "notice_minutes": {"type": "integer"}, "horizon_days": {"type": "integer"}}},
                },
            },
            **openapi_bookings.SCHEMAS,
            **openapi_production.SCHEMAS,
            **openapi_plan.SCHEMAS,
            **openapi_ledger.SCHEMAS,
            "Telemetry": {
                "type": "object", "required": ["machine", "since", "until", "samples", "truncated"],
                "properties": {
                    "machine": {"type": "string"},
                    "since": {"type": "string", "format": "date-time"},
                    "until": {"type": "string", "format": "date-time"},
                    "truncated": {"type": "boolean", "description": "more samples exist; ask a shorter window"},
                    "samples": {"type": "array", "items": {
                        "type": "object", "required": ["ts", "metrics", "resolution_s"],
                        "properties": {"ts": {"type": "string", "format": "date-time"},
                                       "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
                                       "resolution_s": {"type": "integer",
                                                        "description": "0 as received, else bucket width"}}}},
                },
            },
        },
    },
}


@api.get("/openapi.json")
def openapi():
    return jsonify(SPEC)
