"""Message-level WebSocket faults: the frame proxy, its control client, the fault models, the injector."""

from injectors.websocket.client import WsProxyClient, WsProxyConflict, WsProxyNotFound
from injectors.websocket.faults import (
    ConnectionCut,
    ConnectionSilence,
    FaultSpec,
    FrameDelay,
    FrameDrop,
    FrameDuplicate,
    FrameReorder,
)
from injectors.websocket.injector import WebSocketInjector, WebSocketParams, cleanup_all, control_url

__all__ = [
    "ConnectionCut",
    "ConnectionSilence",
    "FaultSpec",
    "FrameDelay",
    "FrameDrop",
    "FrameDuplicate",
    "FrameReorder",
    "WebSocketInjector",
    "WebSocketParams",
    "WsProxyClient",
    "WsProxyConflict",
    "WsProxyNotFound",
    "cleanup_all",
    "control_url",
]
