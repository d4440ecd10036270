"""Fleet Protocol for Python: written from spec/ and fixtures/ of the Fleet Protocol repository."""
from .client import HubClient, Message, verify_postmarks
from .codec import decode, encode, from_json, to_json
from .envelope import application, application_value, build_envelope, recipient
from .errors import ErrorCode, FleetError, HandshakeError, SecurityError, WireError, DeliveryError, code_name
from .frame import FrameDecoder, encode_frame
from .identity import FileKeystore, Identity, generate_identity, identity_from_seed
from .keyid import hmac_key_id_for, key_id_for
from .pae import pae, u64be
from .replay import ReplayGuard
from .session import Session
from .signing import PinnedKeys, VerifyContext, open_signed, sign_envelope, sign_envelope_hmac
from .token import issue_token, verify_token
from .v2 import FleetMessage, MessageBuilder, MessagePriority, MessageType

__all__ = [n for n in dir() if not n.startswith("_")]
