"""The scenario model (R1.2): frozen, typed objects that a scenario file becomes.

The JSON Schema that editors and ``chaosgate validate`` use is generated from
these classes (see :mod:`chaosgate.scenario.schema`), so the model is the one
place the format is defined. Quantities are parsed here into canonical units;
fault parameters are typed by the injector that owns them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    WithJsonSchema,
)

from chaosgate.scenario.quantities import (
    DURATION_PATTERN,
    THRESHOLD_PATTERN,
    Threshold,
    format_duration,
    parse_duration,
    parse_threshold,
)

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "pattern": DURATION_PATTERN,
                    "description": "a duration such as `5s`, `150ms` or `2m`",
                    "examples": ["5s", "150ms", "2m"],
                },
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: `150ms`, `5s`, `2m`, `1h`, or a number of seconds.",
        }
    ),
]

ThresholdSpec = Annotated[
    Threshold,
    BeforeValidator(parse_threshold),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": THRESHOLD_PATTERN,
            "description": "`metric op value`, e.g. `p95 < 150ms`, `error_rate < 0.1%`, `rps >= 100`.",
            "examples": ["p95 < 150ms", "error_rate < 0.1%", "rps >= 100", "recover < 5s"],
        }
    ),
]


class Frozen(BaseModel):
    """Immutable, closed records: unknown keys are errors, values never change."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Category(StrEnum):
    """The families the suite score is broken down by (R6.2)."""

    NETWORK = "network"
    CONTAINER = "container"
    WEBSOCKET = "websocket"
    SECURITY = "security"
    LOAD = "load"
    DATA_INTEGRITY = "data_integrity"


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Request(Frozen):
    """One HTTP request; strings may use ``${setup.step.field}``, ``${env.NAME}``."""

    method: HttpMethod = "GET"
    path: str = Field(description="Path below the target's base URL, e.g. `/api/v1/agents`.")
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json", description="A JSON body to send.")
    timeout: Duration = Field(default=5.0, description="Give up on the response after this long.")


class HeaderMatch(Frozen):
    """A header value that must equal a string or match a regular expression."""

    equals: str | None = None
    regex: str | None = None


HeaderCheck = Literal["present", "absent"] | HeaderMatch


class BodyMatch(Frozen):
    """What the value at a JSONPath must be: equal, present/absent, or matching a regex."""

    equals: Any = None
    exists: bool | None = None
    matches: str | None = None


class ResponseCheck(Frozen):
    """What a response must look like; unset parts are not checked."""

    status: int | list[int] | None = Field(default=None, description="A status code or a set of them.")
    headers: dict[str, HeaderCheck] = Field(
        default_factory=dict, description="Header name → `present`, `absent`, {equals} or {regex}."
    )
    json_body: dict[str, BodyMatch] = Field(
        default_factory=dict, alias="json", description="JSONPath → {equals}, {exists} or {matches}."
    )


class SetupStep(Frozen):
    """A request made once before the run; its JSON response is ``${setup.NAME...}``."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    request: Request
    expect: ResponseCheck = Field(default_factory=ResponseCheck)


class Probe(Frozen):
    """A request sampled on its own schedule for the whole run (R2.3)."""

    name: str | None = None
    request: Request
    expect: ResponseCheck = Field(default_factory=ResponseCheck)
    every: Duration = Field(default=0.1, description="Sampling interval; the default gives 10 Hz.")


class LoadRequest(Frozen):
    """One entry of the weighted request mix of a load profile."""

    name: str | None = None
    method: HttpMethod = "GET"
    path: str
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    weight: int = Field(default=1, ge=1)


class Load(Frozen):
    """A locust load profile run in its own process for the scenario (R4.1)."""

    users: int = Field(ge=1, le=10_000)
    spawn_rate: float = Field(gt=0)
    duration: Duration
    think_time: Duration = 0.0
    mix: list[LoadRequest] = Field(min_length=1)


class WebSocketStream(Frozen):
    """A WebSocket subscriber whose stream is checked Jepsen-style for loss, duplicates and order (R5).

    The subscriber reconnects with exponential backoff and resumes from the
    last sequence it saw (``?<resume_param>=N``). A frame is an event when it
    carries `sequence_field`; its type is read from `type_field`.
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")
    path: str
    events: list[str] = Field(default_factory=list, description="Event types to expect; empty for all.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Handshake headers, e.g. Authorization."
    )
    resume_param: str = Field(default="last_sequence", description="Query parameter that resumes the stream.")
    sequence_field: str = Field(default="sequence", description="Field holding an event's sequence number.")
    type_field: str = Field(default="event_type", description="Field holding an event's type.")
    reconnect_within: Duration = Field(default=60.0, description="Give up reconnecting after this long.")


class Fault(BaseModel):
    """A fault: which injector, when, for how long, and the injector's own parameters.

    The parameters are not fields of this class: each injector owns their
    schema, and the loader replaces them by the injector's typed ``Params``.
    """

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    injector: str
    name: str | None = None
    at: Duration = Field(default=0.0, description="Offset from the start of the fault phase.")
    for_: Duration = Field(alias="for", description="How long the fault stays injected.")

    @property
    def params(self) -> dict[str, Any]:
        """The injector parameters as written (typed by the loader via the injector)."""
        return dict(self.model_extra or {})


class ExpectationBase(Frozen):
    """What every expectation carries: its weight in the score and whether it gates."""

    name: str | None = None
    weight: float = Field(default=1.0, gt=0)
    critical: bool = Field(default=False, description="A failed critical expectation is a No-Go.")
    grace: Duration = Field(
        default=0.0, description="Samples in the first `grace` of the window are not judged."
    )
    fault: str | None = Field(default=None, description="Only the window of the fault with this name.")


class RequestExpectation(ExpectationBase, ResponseCheck):
    """Every sample of this request in the window must match."""

    request: Request


class MetricExpectation(ExpectationBase):
    """A threshold over the samples of the window (latency, errors, throughput, recovery)."""

    metric: ThresholdSpec
    of: str | None = Field(default=None, description="A probe, stream, or `load`; default: all samples.")


class CheckExpectation(ExpectationBase):
    """A check computed by a registered Python function."""

    check: str = Field(description="`module:function` or the name of a registered check.")
    args: dict[str, Any] = Field(default_factory=dict)


def _expectation_kind(value: Any) -> str | None:
    """The kind an expectation is, told by its key: `request`, `metric` or `check`."""
    if isinstance(value, dict):
        return next((key for key in ("request", "metric", "check") if key in value), None)
    for kind, cls in (
        ("request", RequestExpectation),
        ("metric", MetricExpectation),
        ("check", CheckExpectation),
    ):
        if isinstance(value, cls):
            return kind
    return None


Expectation = Annotated[
    Annotated[RequestExpectation, Tag("request")]
    | Annotated[MetricExpectation, Tag("metric")]
    | Annotated[CheckExpectation, Tag("check")],
    Discriminator(
        _expectation_kind,
        custom_error_type="expectation_kind",
        custom_error_message="an expectation needs one of the keys `request`, `metric` or `check`",
    ),
]


class Expectations(Frozen):
    """Expectations scoped to time windows relative to the faults."""

    before: list[Expectation] = Field(default_factory=list)
    during: list[Expectation] = Field(default_factory=list)
    after: list[Expectation] = Field(default_factory=list)


class SlaOverride(Frozen):
    """A named SLA profile with single targets overridden, or gates waived, for this scenario."""

    profile: str = Field(default="default", description="Name or file of an SLA profile.")
    targets: list[ThresholdSpec] = Field(
        default_factory=list, description="Replace the profile's gate of the same metric, or add one."
    )
    waive: list[str] = Field(
        default_factory=list,
        description="Names of the profile's gates this scenario is not judged by (reported as waived).",
        examples=[["throughput"]],
    )


class Scenario(Frozen):
    """One resilience experiment: what to break, under what load, and what must hold."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Unique, lowercase, used in reports.")
    title: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    category: Category = Category.NETWORK
    weight: float = Field(default=1.0, gt=0, description="Weight of this scenario in the suite score.")
    target: str = Field(default="reference", description="Name of a target file, e.g. `reference`.")
    sla: str | SlaOverride = "default"
    setup: list[SetupStep] = Field(default_factory=list)
    steady_state: list[Probe] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)
    streams: list[WebSocketStream] = Field(default_factory=list)
    load: Load | None = None
    faults: list[Fault] = Field(default_factory=list)
    observe: Duration = Field(
        default=10.0,
        description="How long probes keep sampling after the last fault ends (without faults: in all).",
    )
    expect: Expectations = Field(default_factory=Expectations)
    teardown: list[Request] = Field(default_factory=list)

    @property
    def sla_profile(self) -> str:
        """The name (or file) of the SLA profile this scenario names."""
        return self.sla if isinstance(self.sla, str) else self.sla.profile

    @property
    def waived_gates(self) -> tuple[str, ...]:
        return () if isinstance(self.sla, str) else tuple(self.sla.waive)
