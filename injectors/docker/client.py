"""chaosgate's view of the Docker engine: the few calls the injector needs, errors translated.

The ``docker`` SDK raises ``docker.errors.*`` and, underneath, ``requests``
exceptions; here they become :class:`~chaosgate.exceptions.ComponentMissing`
when the engine cannot be reached at all (the fix is to start ``dockerd``) and
:class:`~chaosgate.exceptions.InjectorError` for everything else, with the
operation and the container in the message. :class:`ContainerGone` (a 404)
is its own subclass so a revert can treat "already removed" as done.

Two SDK gaps are filled here: ``Container.update`` drops every falsy value (so
``CpuQuota=-1`` works but nothing can be reset with 0) and has no
``NanoCpus``, so resource updates go to ``POST /containers/{id}/update``
through the SDK's own HTTP session, which keeps its timeout and socket.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import docker
import docker.errors
import requests

from chaosgate.exceptions import ComponentMissing, InjectorError

DEFAULT_TIMEOUT = 30.0
START_DOCKERD = "start the engine: `bash ci/install.sh` (or `sudo setsid dockerd >/tmp/dockerd.log 2>&1 &`)"

Container = Any
"""A ``docker.models.containers.Container`` (the SDK ships no type hints)."""


class ContainerGone(InjectorError):
    """The container (or network) no longer exists."""


@contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Translate whatever the SDK raises while doing `what` into chaosgate's exceptions."""
    try:
        yield
    except docker.errors.NotFound as error:
        raise ContainerGone(f"docker: {what}: not found ({_explain(error)})") from error
    except docker.errors.APIError as error:
        raise InjectorError(f"docker: {what} failed: {_explain(error)}") from error
    except requests.exceptions.ConnectionError as error:
        raise ComponentMissing(f"docker: {what}: engine not reachable ({error}); {START_DOCKERD}") from error
    except requests.exceptions.Timeout as error:
        raise InjectorError(f"docker: {what}: the engine did not answer in time ({error})") from error
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise InjectorError(f"docker: {what} failed: {error}") from error


def _explain(error: docker.errors.APIError) -> str:
    explanation = getattr(error, "explanation", None)
    return str(explanation or error)


@dataclass(frozen=True)
class NetworkAttachment:
    """How a container is attached to one network, enough to attach it again the same way."""

    network_id: str
    network_name: str
    aliases: tuple[str, ...]
    ipv4_address: str | None


@dataclass(frozen=True)
class NetworkAddress:
    """The addresses a running container has on one network (empty when it has none)."""

    network_id: str
    network_name: str
    ipv4: str
    ipv6: str


class DockerEngine:
    """One Docker engine connection with a timeout on every call."""

    def __init__(self, base_url: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        try:
            if base_url is None:
                self._client = docker.from_env(timeout=int(timeout))
            else:
                self._client = docker.DockerClient(base_url=base_url, timeout=int(timeout))
        except docker.errors.DockerException as error:
            raise ComponentMissing(f"docker: engine not reachable ({error}); {START_DOCKERD}") from error
        self.timeout = timeout

    @property
    def sdk(self) -> Any:
        """The underlying ``docker.DockerClient``, for tests and fixtures."""
        return self._client

    def version(self) -> str:
        with engine_errors("version"):
            self._client.ping()
            return str(self._client.version().get("Version", "unknown"))

    def host_memory(self) -> int:
        """Total memory of the engine's host, in bytes."""
        with engine_errors("info"):
            return int(self._client.info().get("MemTotal", 0))

    # -- finding containers -----------------------------------------------------------------------

    def get(self, ref: str) -> Container:
        with engine_errors(f"container {ref}"):
            return self._client.containers.get(ref)

    def by_label(self, label: str) -> list[Container]:
        """Every container (running or not) carrying `label` (``key=value`` or ``key``)."""
        with engine_errors(f"containers labelled {label}"):
            found: list[Container] = self._client.containers.list(all=True, filters={"label": label})
            return sorted(found, key=lambda c: str(c.name))

    def state(self, container: Container) -> str:
        """``running``, ``paused``, ``exited``… as the engine says now."""
        with engine_errors(f"inspect {container.name}"):
            container.reload()
            return str(container.status)

    # -- actions ----------------------------------------------------------------------------------

    def pause(self, container: Container) -> None:
        with engine_errors(f"pause {container.name}"):
            container.pause()

    def unpause(self, container: Container) -> None:
        with engine_errors(f"unpause {container.name}"):
            container.unpause()

    def stop(self, container: Container, timeout: int) -> None:
        with engine_errors(f"stop {container.name}"):
            container.stop(timeout=timeout)

    def start(self, container: Container) -> None:
        with engine_errors(f"start {container.name}"):
            container.start()

    def kill(self, container: Container, signal: str) -> None:
        with engine_errors(f"kill {container.name} with {signal}"):
            container.kill(signal=signal)

    def restart(self, container: Container, timeout: int) -> None:
        with engine_errors(f"restart {container.name}"):
            container.restart(timeout=timeout)

    # -- networks ---------------------------------------------------------------------------------

    def _networks(self, container: Container) -> Mapping[str, Any]:
        with engine_errors(f"inspect {container.name}"):
            container.reload()
            networks: Mapping[str, Any] = container.attrs["NetworkSettings"]["Networks"] or {}
        return networks

    def attachments(self, container: Container) -> dict[str, NetworkAttachment]:
        """The networks `container` is on, by name, with its aliases and any static address."""
        short_id = str(container.id)[:12]
        result = {}
        for name, settings in self._networks(container).items():
            ipam = settings.get("IPAMConfig") or {}
            aliases = tuple(a for a in settings.get("Aliases") or () if a != short_id)
            result[name] = NetworkAttachment(
                network_id=str(settings.get("NetworkID") or name),
                network_name=name,
                aliases=aliases,
                ipv4_address=ipam.get("IPv4Address") or None,
            )
        return result

    def addresses(self, container: Container) -> dict[str, NetworkAddress]:
        """The addresses `container` has now, by network id."""
        result = {}
        for name, settings in self._networks(container).items():
            network_id = str(settings.get("NetworkID") or name)
            result[network_id] = NetworkAddress(
                network_id=network_id,
                network_name=name,
                ipv4=str(settings.get("IPAddress") or ""),
                ipv6=str(settings.get("GlobalIPv6Address") or ""),
            )
        return result

    def disconnect(self, container: Container, attachment: NetworkAttachment) -> None:
        with engine_errors(f"disconnect {container.name} from {attachment.network_name}"):
            self._client.networks.get(attachment.network_id).disconnect(container.id, force=True)

    def connect(self, container: Container, attachment: NetworkAttachment) -> None:
        """Attach again with the same aliases and address (the default bridge takes no aliases)."""
        with engine_errors(f"reconnect {container.name} to {attachment.network_name}"):
            self._client.networks.get(attachment.network_id).connect(
                container.id,
                aliases=list(attachment.aliases) or None,
                ipv4_address=attachment.ipv4_address,
            )

    # -- resources --------------------------------------------------------------------------------

    def limits(self, container: Container) -> dict[str, int]:
        """The resource fields a `limit` fault changes, as the engine reports them now."""
        with engine_errors(f"inspect {container.name}"):
            container.reload()
            host_config: Mapping[str, Any] = container.attrs["HostConfig"]
        keys = ("Memory", "MemorySwap", "NanoCpus", "CpuQuota", "CpuPeriod")
        return {key: int(host_config.get(key) or 0) for key in keys}

    def update_resources(self, container: Container, body: Mapping[str, int]) -> None:
        """``POST /containers/{id}/update`` with exactly `body` (see the module docstring for why raw)."""
        api = self._client.api
        url = f"{api.base_url}/v{api.api_version}/containers/{container.id}/update"
        with engine_errors(f"update {container.name} {dict(body)}"):
            response = api.post(url, json=dict(body), timeout=self.timeout)
            if response.status_code >= 400:
                try:
                    message = response.json().get("message", response.text)
                except ValueError:
                    message = response.text
                raise InjectorError(f"docker: update {container.name} {dict(body)} failed: {message}")

    # -- lifetime ---------------------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
