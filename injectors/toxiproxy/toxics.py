"""Every Toxiproxy 2.x toxic as a typed model, so a scenario is checked before anything runs.

The server itself silently ignores attributes it does not know (a misspelt
``jiter: 20`` would simply never happen), so each toxic's attributes are a
closed model here: an unknown or misspelt attribute is a validation error at
``chaosgate validate`` time. Units follow the Toxiproxy README and are named in
each field's description, which is also what an editor shows from the JSON
Schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Closed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Count = Annotated[int, Field(strict=True, ge=0)]
"""A non-negative whole number; strict, so `true` or `"300ms"` is an error rather than a coercion."""


class ToxicBase(_Closed):
    """What every toxic shares: the direction it acts on and the share of connections it hits."""

    stream: Literal["downstream", "upstream"] = Field(
        default="downstream",
        description="`downstream` acts on server→client data, `upstream` on client→server data.",
    )
    toxicity: float = Field(
        default=1.0, ge=0.0, le=1.0, description="Probability that a connection is affected (0..1)."
    )

    def attribute_values(self) -> dict[str, Any]:
        """The attributes as the REST API takes them."""
        values: dict[str, Any] = self.model_dump()["attributes"]
        return values

    def summary(self) -> str:
        """The fault in words, without the proxy (for `describe()` and reports)."""
        raise NotImplementedError


class LatencyAttributes(_Closed):
    latency: Count = Field(description="Delay added to data, in milliseconds.")
    jitter: Count = Field(default=0, description="Random variation of the delay, ± milliseconds.")


class LatencyToxic(ToxicBase):
    """Add `latency` ± `jitter` milliseconds to all data going through the proxy."""

    type: Literal["latency"]
    attributes: LatencyAttributes

    def summary(self) -> str:
        jitter = f" ±{self.attributes.jitter}ms" if self.attributes.jitter else ""
        return f"latency {self.attributes.latency}ms{jitter}"


class BandwidthAttributes(_Closed):
    rate: Count = Field(description="Maximum throughput in kilobytes per second.")


class BandwidthToxic(ToxicBase):
    """Limit the connection to `rate` KB/s."""

    type: Literal["bandwidth"]
    attributes: BandwidthAttributes

    def summary(self) -> str:
        return f"bandwidth limited to {self.attributes.rate} KB/s"


class SlowCloseAttributes(_Closed):
    delay: Count = Field(description="How long the TCP close is held back, in milliseconds.")


class SlowCloseToxic(ToxicBase):
    """Delay the TCP socket from closing until `delay` has elapsed."""

    type: Literal["slow_close"]
    attributes: SlowCloseAttributes

    def summary(self) -> str:
        return f"slow_close {self.attributes.delay}ms"


class TimeoutAttributes(_Closed):
    timeout: Count = Field(description="Close the connection after this many milliseconds; 0: never.")


class TimeoutToxic(ToxicBase):
    """Stop all data and close the connection after `timeout` ms (0: never close, drop data until removed)."""

    type: Literal["timeout"]
    attributes: TimeoutAttributes

    def summary(self) -> str:
        if self.attributes.timeout == 0:
            return "timeout (data dropped, connection held open)"
        return f"timeout (data dropped, connection closed after {self.attributes.timeout}ms)"


class ResetPeerAttributes(_Closed):
    timeout: Count = Field(default=0, description="Send the TCP RST after this many ms (0: at once).")


class ResetPeerToxic(ToxicBase):
    """Simulate `connection reset by peer`, at once or after `timeout` ms."""

    type: Literal["reset_peer"]
    attributes: ResetPeerAttributes = Field(default_factory=lambda: ResetPeerAttributes(timeout=0))

    def summary(self) -> str:
        return f"reset_peer after {self.attributes.timeout}ms"


class SlicerAttributes(_Closed):
    average_size: int = Field(strict=True, ge=1, description="Average size of a slice, in bytes.")
    size_variation: Count = Field(
        default=0, description="Variation of the slice size, in bytes (smaller than `average_size`)."
    )
    delay: Count = Field(default=0, description="Pause between slices, in MICROseconds.")

    @model_validator(mode="after")
    def _variation_below_average(self) -> SlicerAttributes:
        if self.size_variation >= self.average_size:
            raise ValueError("`size_variation` must be smaller than `average_size`")
        return self


class SlicerToxic(ToxicBase):
    """Slice TCP data into small bits, optionally with a delay between them."""

    type: Literal["slicer"]
    attributes: SlicerAttributes

    def summary(self) -> str:
        a = self.attributes
        variation = f"±{a.size_variation}" if a.size_variation else ""
        return f"slicer {a.average_size}{variation}-byte slices {a.delay}µs apart"


class LimitDataAttributes(_Closed):
    bytes: Count = Field(description="Close the connection after this many bytes have gone through.")


class LimitDataToxic(ToxicBase):
    """Close the connection once `bytes` bytes have been transmitted."""

    type: Literal["limit_data"]
    attributes: LimitDataAttributes

    def summary(self) -> str:
        return f"limit_data: connection closed after {self.attributes.bytes} bytes"


ToxicSpec = Annotated[
    LatencyToxic
    | BandwidthToxic
    | SlowCloseToxic
    | TimeoutToxic
    | ResetPeerToxic
    | SlicerToxic
    | LimitDataToxic,
    Field(discriminator="type"),
]
"""A toxic as a scenario writes it, chosen by its `type`."""

TOXIC_MODELS: dict[str, type[ToxicBase]] = {
    "latency": LatencyToxic,
    "bandwidth": BandwidthToxic,
    "slow_close": SlowCloseToxic,
    "timeout": TimeoutToxic,
    "reset_peer": ResetPeerToxic,
    "slicer": SlicerToxic,
    "limit_data": LimitDataToxic,
}
"""Every Toxiproxy 2.x toxic type by name."""
