"""Every failure is a FleetError carrying a fleet.v1.ErrorCode number (spec/proto/fleet/v1/errors.proto).

The subclass names the area (the hundreds digit): HandshakeError (1xx), CapabilityError (4xx),
RegistryError (5xx), SecurityError (6xx), WireError (7xx), DeliveryError (8xx)."""
from __future__ import annotations

from ._proto.fleet.v1 import errors_pb2

ErrorCode = errors_pb2.ErrorCode


def code_name(code: int) -> str:
    """The code's name without the ERROR_CODE_ prefix, e.g. 601 -> SECURITY_SIGNATURE_INVALID."""
    try:
        return ErrorCode.Name(code)[len("ERROR_CODE_"):]
    except ValueError:
        return f"UNKNOWN_{code}"


class FleetError(Exception):
    """A protocol failure: ``code`` (int, an ErrorCode), ``pointer`` (RFC 6901 into the JSON form, or "")."""

    def __init__(self, code: int, message: str, pointer: str = "") -> None:
        super().__init__(f"{code} {code_name(code)}: {message}" + (f" (at {pointer})" if pointer else ""))
        self.code = int(code)
        self.detail = message
        self.pointer = pointer

    @staticmethod
    def of(code: int, message: str, pointer: str = "") -> "FleetError":
        """The FleetError subclass for the code's area."""
        cls = _BY_AREA.get(int(code) // 100, FleetError)
        return cls(code, message, pointer)


class HandshakeError(FleetError):
    """1xx: the handshake failed."""


class CapabilityError(FleetError):
    """4xx: capability negotiation failed."""


class RegistryError(FleetError):
    """5xx: registry."""


class SecurityError(FleetError):
    """6xx: signature, key, replay, token or decryption failure."""


class WireError(FleetError):
    """7xx: bytes or JSON that are not a valid message."""


class DeliveryError(FleetError):
    """8xx: the message could not be delivered (busy, expired, unavailable, ...)."""


_BY_AREA = {1: HandshakeError, 4: CapabilityError, 5: RegistryError, 6: SecurityError, 7: WireError, 8: DeliveryError}


def fail(code: int, message: str, pointer: str = "") -> "FleetError":
    return FleetError.of(code, message, pointer)
