"""Property-based fuzzing of the service from its own OpenAPI schema (schemathesis), against a
real `mcdenoise serve` on 127.0.0.1 with API keys on.

Every generated request, valid or deliberately invalid, must get a documented status with a
documented body (no 5xx except a deliberate 503), and the server must still denoise a good
frame afterwards. Bounded: a few dozen examples per operation, no deadline.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from service_support import KEY, exr_bytes, keyed_server, make_frame

AUTH = {"Authorization": f"Bearer {KEY}"}
# benchmarks/reliability_bench.py runs this module with more examples and collects the status
# of every response (MCDENOISE_FUZZ_STATUSES: a JSON file written when the module ends).
MAX_EXAMPLES = int(os.environ.get("MCDENOISE_FUZZ_EXAMPLES", "50"))
STATUSES: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def record_statuses():
    yield
    if os.environ.get("MCDENOISE_FUZZ_STATUSES"):
        Path(os.environ["MCDENOISE_FUZZ_STATUSES"]).write_text(json.dumps(dict(STATUSES)))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    # Small limits keep every generated body cheap; the queue is deep enough that no request
    # of this sequential run is turned away (a job holds its place until it is done, and a
    # POST /v1/jobs answers before that, so jobs pile up faster than they are denoised).
    with keyed_server(folder, "--max-pixels", str(256 * 256), "--max-upload-mb", "2",
                      "--timeout", "60", "--queue", "256") as base_url:
        yield base_url, folder


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    """The served schema, with real EXR frames as the files of schema-valid requests.

    The schema can say "a binary file" but not "an EXR": random bytes would be valid by the
    schema and still (rightly) refused. So positive cases upload real frames, in half and
    float; garbage files are the bad-input corpus's job (test_service.py).
    """
    from schemathesis.specs.openapi.formats import unregister_string_format

    base_url, folder = fuzz_server
    frame = make_frame(seed=11)
    frames = [exr_bytes(frame, folder, "half.exr"),
              exr_bytes(frame, folder, "float.exr", precision="float", compression="piz")]
    schemathesis.openapi.format("binary", st.sampled_from(frames))
    try:
        yield schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    finally:
        unregister_string_format("binary")  # back to schemathesis's own


# Listed here (and checked against the schema below) so that each operation and mode is a test
# of its own; schemathesis's pytest loader for fixtures does not run under pytest 9.
OPERATIONS = [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/v1/models"), ("GET", "/metrics"),
              ("POST", "/v1/denoise"), ("POST", "/v1/preview"), ("POST", "/v1/jobs"),
              ("GET", "/v1/jobs/{job_id}"), ("GET", "/v1/jobs/{job_id}/result"),
              ("GET", "/v1/jobs/{job_id}/layers"), ("GET", "/v1/jobs/{job_id}/pixels"),
              ("DELETE", "/v1/jobs/{job_id}")]
# Negative data (bodies that break the schema) only exists where there is a body.
CASES = [(method, path, GenerationMode.POSITIVE) for method, path in OPERATIONS] + [
    (method, path, GenerationMode.NEGATIVE) for method, path in OPERATIONS if method == "POST"]


def test_every_operation_is_fuzzed(api_schema):
    found = {(result.ok().method.upper(), result.ok().path)
             for result in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize("method, path, mode", CASES,
                         ids=[f"{m}-{p}-{g.value}" for m, p, g in CASES])
def test_api_conforms_to_its_schema(method, path, mode, api_schema, fuzz_server):
    base_url, _ = fuzz_server
    operation = api_schema[path][method]
    body_schema = (api_schema.raw_schema["paths"][path][method.lower()].get("requestBody", {})
                   .get("content", {}).get("multipart/form-data", {}).get("schema"))

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        # The schema's security schemes make schemathesis send made-up keys. Replace them with
        # the real one, so that the request reaches the handler, except in negative cases about
        # the headers themselves, which are sent as generated (and must be refused).
        headers = AUTH
        if mode == GenerationMode.NEGATIVE and case.meta.is_negative_at(ParameterLocation.HEADER):
            headers = {}
        elif case.headers:
            case.headers = {k: v for k, v in case.headers.items()
                            if k.lower() not in ("authorization", "x-api-key")}
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        STATUSES[str(response.status_code)] += 1
        # A 503 is only allowed as the deliberate answer of a full queue (jobs made by earlier
        # examples may still hold its slots), a full job store or a loading model.
        if response.status_code == 503:
            assert response.json()["error"] in ("queue_full", "job_store_full", "jobs_full",
                                                "not_ready")
            assert "retry-after" in {k.lower() for k in response.headers}
        else:
            assert response.status_code < 500, response.text
        excluded = []
        if mode == GenerationMode.NEGATIVE and body_is_valid(case, body_schema):
            # The mutation did not survive (schemathesis sometimes negates one branch of the
            # body's anyOf and still sends a body that the other branch accepts): a 200 is
            # then right, so the "negative data was rejected" check does not apply.
            excluded.append(schemathesis.checks.negative_data_rejection)
        case.validate_response(response, headers=headers, excluded_checks=excluded,
                               transport_kwargs={"base_url": base_url, "headers": headers})

    check()


def body_is_valid(case, schema: dict | None) -> bool:
    """Whether the multipart body as generated satisfies the operation's own body schema
    (file contents stand in as strings: their format is not what is being judged)."""
    if schema is None or not isinstance(case.body, dict):
        return False
    body = {}
    for name, value in case.body.items():
        # On the wire a list is its items as repeated fields: none is an absent field, one is
        # that value alone (a list of one integer arrives as an integer).
        if isinstance(value, list) and len(value) <= 1:
            if not value:
                continue
            value = value[0]
        if isinstance(value, (bytes, bytearray)) or type(value).__name__ == "Binary":
            body[name] = "<file>"
        elif value is None or isinstance(value, (str, int, float, bool)):
            body[name] = value
        else:
            return False  # a list or an object: not what one multipart field carries
    return jsonschema_rs.validator_for(schema).is_valid(body)


def test_still_serving_after_the_fuzz(fuzz_server):
    base_url, folder = fuzz_server
    data = exr_bytes(make_frame(), folder, "good.exr")
    response = httpx.post(f"{base_url}/v1/denoise", files={"file": ("good.exr", data)},
                          headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
