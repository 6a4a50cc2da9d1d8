#!/usr/bin/env python3
"""The OpenAPI 3.1 description of Kue's JSON API (kue_api.py).

Written by hand, in the style of apps_openapi.py; ``kue_api.py`` serves
``kue_description()`` at ``/openapi.json`` with a Swagger UI page at
``/docs`` (``http_common.api_docs``). Checked against the code by
tests/queuing_system/test_kue_openapi.py (every route and method is
described, and every described one exists; answers of a live server
fit it): a new route must be added here. The shapes are Kue 0.11's
(docs/queuing-system.md).
"""
from http_common.api_docs import docs_paths

from kue_jobs import STATES

ORDERS = ["asc", "desc"]


def _json(description: str, schema: dict) -> dict:
    """Return a response object with a JSON body of the given schema."""
    return {"description": description,
            "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict:
    """Return a reference to a schema of the components."""
    return {"$ref": "#/components/schemas/" + name}


ERROR = _ref("Error")
BAD = _json("Refused: a bad id, state, order, range, body or move "
            "({\"error\": ...}).", ERROR)
NOT_FOUND = _json("No such job, or no such route ({\"error\": ...}).",
                  ERROR)
FORBIDDEN = _json("A Host header that is not a loopback name while no "
                  "KUE_UI_PASSWORD is set (DNS rebinding).", ERROR)
UNAUTHORIZED = {
    "description": "KUE_UI_PASSWORD is set and the request's Basic "
                   "credentials do not carry it.",
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    "content": {"application/json": {"schema": ERROR}}}
UNAVAILABLE = _json(
    "Redis cannot be reached: {\"status\": \"Service unavailable\", "
    "\"error\": \"Redis unavailable\"}.", {
        "type": "object", "required": ["status"],
        "properties": {"status": {"type": "string"},
                       "error": {"type": "string"}}})
MESSAGE = {"type": "object", "required": ["message"],
           "properties": {"message": {"type": "string"}}}
REF = {"name": "ref", "in": "path", "required": True,
       "description": "A job id, or TYPE:ID (bullmq numbers jobs per "
                      "type; an id two types hold is refused with 400).",
       "schema": {"type": "string", "minLength": 1}}
SPAN = {"name": "span", "in": "path", "required": True,
        "description": "from..to, inclusive, by id (at most 1,000 jobs; "
                       "to -1: the next 1,000).",
        "schema": {"type": "string",
                   "pattern": "^[0-9]{1,9}\\.\\.-?[0-9]{1,9}$"},
        "example": "0..49"}
ORDER = {"name": "order", "in": "path", "required": True,
         "schema": {"type": "string", "enum": ORDERS}}
STATE = {"name": "state", "in": "path", "required": True,
         "schema": {"type": "string", "enum": sorted(STATES)}}
JOB_TYPE = {"name": "job_type", "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1}}
MILLIS = {"type": "string", "pattern": "^[0-9]+$",
          "description": "A millisecond timestamp, as Kue writes it."}
JOB = {
    "type": "object",
    "required": ["id", "type", "data", "priority", "progress", "state",
                 "error", "attempts", "removeOnComplete"],
    "properties": {
        "id": {"type": "string"}, "type": {"type": "string"},
        "name": {"type": "string"}, "data": {},
        "result": {}, "priority": {"type": "integer"},
        "progress": {"type": "number"}, "progress_data": {},
        "state": {"type": "string", "enum": sorted(STATES)},
        "error": {"type": ["string", "null"]},
        "created_at": MILLIS, "promote_at": MILLIS, "updated_at": MILLIS,
        "failed_at": MILLIS, "started_at": MILLIS, "duration": MILLIS,
        "delay": {"type": "integer"}, "ttl": {"type": "integer"},
        "attempts": {
            "type": "object", "required": ["made", "remaining", "max"],
            "properties": {"made": {"type": "integer"},
                           "remaining": {"type": "integer"},
                           "max": {"type": "integer"}}},
        "removeOnComplete": {"type": "boolean"}}}
NEW_JOB = {
    "type": "object", "required": ["type"],
    "properties": {
        "type": {"type": "string", "minLength": 1, "maxLength": 200},
        "data": {},
        "options": {"type": "object", "properties": {
            "attempts": {"type": "integer", "minimum": 1,
                         "maximum": 2 ** 31 - 1},
            "delay": {"type": "integer", "minimum": 0,
                      "maximum": 2 ** 31 - 1},
            "ttl": {"type": "integer", "minimum": 1,
                    "maximum": 2 ** 31 - 1},
            "priority": {"description": "A Kue name (low, normal, "
                                        "medium, high, critical) or "
                                        "number."},
            "removeOnComplete": {"type": "boolean"},
            "backoff": {"description": "true, or {\"type\": \"fixed\" "
                                       "or \"exponential\", \"delay\": "
                                       "ms}."}}}}}
CREATED = {"type": "object", "required": ["message", "id", "type"],
           "properties": {"message": {"const": "job created"},
                          "id": {"type": "string"},
                          "type": {"type": "string"}}}
COUNTS = {"type": "object", "required": sorted(STATES),
          "properties": {state: {"type": "integer", "minimum": 0}
                         for state in sorted(STATES)}}
STATS = {"type": "object",
         "required": ["inactiveCount", "completeCount", "activeCount",
                      "failedCount", "delayedCount", "workTime"],
         "properties": dict({
             name: {"type": "integer", "minimum": 0}
             for name in ("inactiveCount", "completeCount", "activeCount",
                          "failedCount", "delayedCount")},
             workTime={"type": ["integer", "null"]})}


def _get(operation_id: str, summary: str, ok: dict,
         parameters: tuple = ()) -> dict:
    """Return a GET operation with the answers every route can give."""
    return {"get": {"operationId": operation_id, "summary": summary,
                    "parameters": list(parameters),
                    "responses": {"200": ok, "400": BAD, "404": NOT_FOUND,
                                  "503": UNAVAILABLE}}}


def _list(operation_id: str, summary: str, *parameters: dict) -> dict:
    """Return a GET operation answering an array of jobs."""
    return _get(operation_id, summary, _json(
        "The jobs, by id.", {"type": "array", "items": _ref("Job")}),
        parameters)


def kue_description() -> dict:
    """Return the description of Kue's JSON API and dashboard."""
    message = _json("{\"message\": ...}", MESSAGE)
    paths = {
        "/": {"get": {
            "operationId": "dashboard", "summary": "The dashboard page",
            "responses": {"200": {"description": "The page.", "content": {
                "text/html": {"schema": {"type": "string"}}}}}}},
        "/{filename}": {"get": {
            "operationId": "dashboard_file",
            "summary": "A file of the dashboard (app.js, style.css)",
            "parameters": [{"name": "filename", "in": "path",
                            "required": True,
                            "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "The file.", "content": {
                    "*/*": {"schema": {"type": "string"}}}},
                "404": NOT_FOUND}}},
        "/stats": _get("stats", "Counts of every state, all types",
                       _json("Kue's /stats.", STATS)),
        "/stats/types": _get(
            "stats_by_type", "Counts per type and state (ours)",
            _json("{type: {state: count}}", {
                "type": "object", "additionalProperties": COUNTS})),
        "/job/types": _get("job_types", "The job types", _json(
            "[\"email\", ...]", {"type": "array",
                                 "items": {"type": "string"}})),
        "/jobs/{span}": _list("jobs", "Jobs of every state", SPAN),
        "/jobs/{span}/{order}": _list(
            "jobs_ordered", "Jobs of every state, in an order", SPAN,
            ORDER),
        "/jobs/{state}/{span}": _list(
            "jobs_in_state", "Jobs in a state", STATE, SPAN),
        "/jobs/{state}/{span}/{order}": _list(
            "jobs_in_state_ordered", "Jobs in a state, in an order",
            STATE, SPAN, ORDER),
        "/jobs/{job_type}/{state}/{span}": _list(
            "jobs_of_type", "A type's jobs in a state", JOB_TYPE, STATE,
            SPAN),
        "/jobs/{job_type}/{state}/{span}/{order}": _list(
            "jobs_of_type_ordered", "A type's jobs in a state, in an "
            "order", JOB_TYPE, STATE, SPAN, ORDER),
        "/jobs/{job_type}/{state}/stats": _get(
            "count_of_type", "How many jobs of a type are in a state",
            _json("{\"count\": n}", {
                "type": "object", "required": ["count"],
                "properties": {"count": {"type": "integer",
                                         "minimum": 0}}}),
            (JOB_TYPE, STATE)),
        "/job/{ref}": dict(
            _get("job", "One job (Kue's job.toJSON())",
                 _json("The job.", _ref("Job")), (REF,)),
            delete={"operationId": "remove_job", "summary": "Delete a job",
                    "parameters": [REF],
                    "responses": {
                        "200": _json("{\"message\": \"job <id> removed\"}",
                                     MESSAGE),
                        "400": BAD, "404": NOT_FOUND,
                        "409": _json("A running job is not removed.",
                                     ERROR),
                        "503": UNAVAILABLE}}),
        "/job/{ref}/log": _get("job_log", "A job's log lines, oldest "
                               "first", _json("[\"line\", ...]", {
                                   "type": "array",
                                   "items": {"type": "string"}}), (REF,)),
        "/job": {"post": {
            "operationId": "create_job",
            "summary": "Create a job, or several (an array; nothing is "
                       "stored if any is bad)",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"oneOf": [
                    _ref("NewJob"),
                    {"type": "array", "items": _ref("NewJob"),
                     "minItems": 1, "maxItems": 1000}]}}}},
            "responses": {
                "200": _json("{\"message\": \"job created\", \"id\", "
                             "\"type\"} (an array for an array)", {
                                 "oneOf": [CREATED, {
                                     "type": "array", "items": CREATED}]},
                             ),
                "400": BAD, "413": _json("The body is over 1 MB.", ERROR),
                "415": _json("Not a JSON content type.", ERROR),
                "503": UNAVAILABLE}}},
        "/job/{ref}/state/{state}": {"put": {
            "operationId": "move_job",
            "summary": "Move a job: inactive retries a failed or complete "
                       "job, runs a delayed one now",
            "parameters": [REF, dict(STATE, schema={"type": "string"})],
            "responses": {"200": message, "400": BAD, "404": NOT_FOUND,
                          "503": UNAVAILABLE}}},
        "/job/{ref}/priority/{priority}": {"put": {
            "operationId": "set_priority",
            "summary": "Change a waiting or delayed job's priority",
            "parameters": [REF, {
                "name": "priority", "in": "path", "required": True,
                "description": "A Kue name or number.",
                "schema": {"type": "string"}}],
            "responses": {"200": message, "400": BAD, "404": NOT_FOUND,
                          "503": UNAVAILABLE}}},
    }
    paths.update(docs_paths("", NOT_FOUND))
    # Last: a concrete path matches the templates in order.
    paths["/{filename}"] = paths.pop("/{filename}")
    for item in paths.values():
        for operation in item.values():
            operation["responses"].setdefault("401", UNAUTHORIZED)
            operation["responses"].setdefault("403", FORBIDDEN)
            operation["responses"].setdefault("405", _json(
                "A method the route does not take.", ERROR))
    return {"openapi": "3.1.0",
            "info": {"title": "Kue JSON API", "version": "1.0.0",
                     "description": "Kue 0.11's JSON API and the queue "
                                    "dashboard (queuing_system/kue_api.py"
                                    "). Errors answer {\"error\": ...}."},
            "paths": paths,
            "components": {
                "schemas": {"Job": JOB, "NewJob": NEW_JOB, "Error": {
                    "type": "object", "required": ["error"],
                    "properties": {"error": {"type": "string"}}}},
                "securitySchemes": {"password": {
                    "type": "http", "scheme": "basic",
                    "description": "Only when KUE_UI_PASSWORD is set: "
                                   "any user name, that password."}}},
            "security": [{}, {"password": []}]}
