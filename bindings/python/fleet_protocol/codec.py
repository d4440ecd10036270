"""Binary and JSON forms of fleet.v1 messages with exact errors (spec/proto, fixtures/wire.json).

Binary: the bytes are walked once against the message descriptor before protobuf parses them, so
every failure has its code and pointer: truncated or bad field encoding 701, invalid UTF-8 in a
string 705, a known field sent with the wrong wire type 708. Then the rules the proto comments
state (generated rules.py) are checked: unknown enum values 706, missing required fields 707,
out-of-range values 709. Pointers are RFC 6901 pointers into the JSON form (lowerCamelCase)."""
from __future__ import annotations

import json
import re
from typing import Any, Optional, Type, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor as FD
from google.protobuf.message import DecodeError, Message

from ._proto import rules as _rules
from ._proto.fleet.v1 import envelope_pb2
from .errors import ErrorCode, fail

M = TypeVar("M", bound=Message)

MAX_DEPTH = 64
_LEN_TYPES = {FD.TYPE_STRING, FD.TYPE_BYTES, FD.TYPE_MESSAGE}
_I64 = {FD.TYPE_FIXED64, FD.TYPE_SFIXED64, FD.TYPE_DOUBLE}
_I32 = {FD.TYPE_FIXED32, FD.TYPE_SFIXED32, FD.TYPE_FLOAT}


def _ptr(parent: str, name: str | int) -> str:
    return f"{parent}/{str(name).replace('~', '~0').replace('/', '~1')}"


def _expected_wire(f: FD) -> int:
    if f.type in _LEN_TYPES:
        return 2
    if f.type in _I64:
        return 1
    if f.type in _I32:
        return 5
    if f.type == FD.TYPE_GROUP:
        return 3
    return 0


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "varint too long")


def _check_enum(f: FD, value: int, at: str) -> None:
    # An enum number this version does not define is a decoding error (spec/errors.md, step 2).
    number = value - (1 << 64) if value >= 1 << 63 else value  # int32 enums travel sign-extended
    if f.enum_type.values_by_number.get(number) is None:
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_UNKNOWN_ENUM, f"{number} is not a {f.enum_type.full_name} value", at)


def check_wire(desc: Descriptor, buf: bytes, start: int = 0, end: int | None = None, pointer: str = "", depth: int = 0) -> None:
    """Walks protobuf bytes against `desc`: 701 truncated/bad encoding, 705 invalid UTF-8, 708 wrong wire type."""
    end = len(buf) if end is None else end
    if depth > MAX_DEPTH:
        raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "message nested too deeply", pointer)
    pos = start
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "field number 0", pointer)
        f = desc.fields_by_number.get(number)
        at = pointer if f is None else f"{pointer}/{f.json_name}"
        if f is not None:
            want = _expected_wire(f)
            packed_ok = f.label == FD.LABEL_REPEATED and want in (0, 1, 5) and wire == 2
            if wire != want and not packed_ok:
                raise fail(ErrorCode.ERROR_CODE_VALIDATION_WRONG_TYPE, f"field {f.name} has wire type {wire}, expected {want}", at)
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            if f is not None and f.enum_type is not None:
                _check_enum(f, value, at)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            n, pos = _varint(buf, pos, end)
            if pos + n > end:
                raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "length-delimited field runs past the end", at)
            if f is not None:
                if f.type == FD.TYPE_STRING:
                    try:
                        bytes(buf[pos:pos + n]).decode("utf-8")
                    except UnicodeDecodeError:
                        raise fail(ErrorCode.ERROR_CODE_WIRE_INVALID_UTF8, f"field {f.name} is not valid UTF-8", at) from None
                elif f.type == FD.TYPE_MESSAGE:
                    check_wire(f.message_type, buf, pos, pos + n, at, depth + 1)
                elif f.type != FD.TYPE_BYTES:
                    # packed repeated scalars: the walk above checked the wire type; the values must fill the length.
                    p, stop = pos, pos + n
                    while p < stop:
                        if want == 0:
                            value, p = _varint(buf, p, stop)
                            if f.enum_type is not None:
                                _check_enum(f, value, at)
                        else:
                            p += 8 if want == 1 else 4
                    if p != stop:
                        raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "packed field has a partial value", at)
            pos += n
        else:
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, f"unsupported wire type {wire}", at)
        if pos > end:
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "field runs past the end", at)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _chars(s: str) -> int:
    # Lengths stated in characters count Unicode code points (spec/errors.md): Python's len().
    return len(s)


def _unset(msg: Message, f: FD) -> bool:
    if f.label == FD.LABEL_REPEATED:
        return len(getattr(msg, f.name)) == 0
    if f.type == FD.TYPE_MESSAGE:
        return not msg.HasField(f.name)
    if f.containing_oneof is not None:
        return msg.WhichOneof(f.containing_oneof.name) != f.name
    v = getattr(msg, f.name)
    return v in (0, False, "", b"")


def _check_value(f: FD, v: Any, rule: dict, parent: str, index: Optional[int]) -> None:
    def at() -> str:
        p = _ptr(parent, f.json_name)
        return p if index is None else _ptr(p, index)
    if f.enum_type is not None and f.enum_type.values_by_number.get(v) is None:
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_UNKNOWN_ENUM, f"{v} is not a {f.enum_type.full_name} value", at())
    if not rule:
        return
    if isinstance(v, str):
        if "minLength" in rule or "maxLength" in rule:
            n = _chars(v)
            if n < rule.get("minLength", 0) or n > rule.get("maxLength", n):
                raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, f"{f.name} must be {rule.get('minLength', 0)}..{rule.get('maxLength', '')} characters", at())
        if "pattern" in rule:
            pat = _PATTERNS.setdefault(rule["pattern"], re.compile(rule["pattern"]))
            if not pat.search(v):
                raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, f"{f.name} does not match {rule['pattern']}", at())
        if "maxBytes" in rule and len(v) * 3 > rule["maxBytes"] and len(v.encode("utf-8")) > rule["maxBytes"]:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, f"{f.name} is larger than {rule['maxBytes']} bytes", at())
    elif isinstance(v, bytes) and "maxBytes" in rule and len(v) > rule["maxBytes"]:
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, f"{f.name} is larger than {rule['maxBytes']} bytes", at())


_PLANS: dict[str, tuple] = {}


def _plan(desc: Descriptor) -> tuple:
    """Per message type, once: its required fields, the rule of each field, its required oneofs."""
    plan = _PLANS.get(desc.full_name)
    if plan is None:
        frules = _rules.FIELD_RULES.get(desc.full_name, {})
        required = sorted((f for f in desc.fields if frules.get(f.name, {}).get("required")), key=lambda f: f.number)
        rules = {f.number: frules.get(f.name, {}) for f in desc.fields}
        plan = (required, rules, _rules.REQUIRED_ONEOFS.get(desc.full_name, []), desc.full_name == "google.protobuf.Timestamp")
        _PLANS[desc.full_name] = plan
    return plan


def validate(msg: Message, pointer: str = "", depth: int = 0) -> None:
    """The rules the proto comments state (706, 707, 709), depth first in field-number order."""
    desc = msg.DESCRIPTOR
    required, rules, oneofs, is_timestamp = _plan(desc)
    if is_timestamp:
        return
    listed = msg.ListFields()  # set fields, in field-number order
    items: list = listed
    if required:
        present = {f.number for f, _ in listed}
        missing = [(f, None) for f in required if f.number not in present or _unset(msg, f)]
        if missing:
            items = sorted(listed + missing, key=lambda fv: (fv[0].number, fv[1] is not None))
    for f, v in items:
        rule = rules.get(f.number, {})
        if v is None:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_MISSING_FIELD, f"{desc.name}.{f.name} is required", _ptr(pointer, f.json_name))
        if rule.get("mustBeTrue") and v is not True:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, f"{f.name} must be true when set", _ptr(pointer, f.json_name))
        if f.label == FD.LABEL_REPEATED:
            if f.type == FD.TYPE_MESSAGE:
                for i, item in enumerate(v):
                    validate(item, _ptr(_ptr(pointer, f.json_name), i), depth + 1)
            elif rule or f.enum_type is not None:
                for i, item in enumerate(v):
                    _check_value(f, item, rule, pointer, i)
        elif f.type == FD.TYPE_MESSAGE:
            validate(v, _ptr(pointer, f.json_name), depth + 1)
        elif rule or f.enum_type is not None:
            _check_value(f, v, rule, pointer, None)
    for oneof in oneofs:
        if msg.WhichOneof(oneof) is None:
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_MISSING_FIELD, f"{desc.name}.{oneof}: exactly one must be set", pointer)
    if desc.full_name == "fleet.v1.Envelope":
        _envelope_rule(msg)


def _envelope_rule(env: Message) -> None:
    # envelope.proto: "Exactly one of body and body_ciphertext is set"; security.encryption is
    # "Present when body_ciphertext is set instead of body".
    if env.body_ciphertext:
        if env.HasField("body"):
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_OUT_OF_RANGE, "body and bodyCiphertext are mutually exclusive", "/body")
        if not env.security.HasField("encryption"):
            raise fail(ErrorCode.ERROR_CODE_VALIDATION_MISSING_FIELD, "an encrypted body needs security.encryption", "/security/encryption")
    elif not env.HasField("body"):
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_MISSING_FIELD, "Envelope.body is required (or bodyCiphertext when encrypted)", "/body")


def decode(cls: Type[M], data: bytes, *, check: bool = True) -> M:
    """Strict binary decoding: the wire walk, protobuf's parser, then validation."""
    data = bytes(data)
    check_wire(cls.DESCRIPTOR, data)
    msg = cls()
    try:
        msg.ParseFromString(data)
    except DecodeError as e:
        raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, f"not a valid {cls.DESCRIPTOR.full_name}: {e}") from None
    if check:
        validate(msg)
    return msg


def encode(msg: Message, *, check: bool = True) -> bytes:
    """Binary form, fields in field-number order; validated first unless check=False."""
    if check:
        validate(msg)
    return msg.SerializeToString(deterministic=True)


# ---- JSON (protobuf canonical JSON, spec/schemas) ----

_INT_TYPES = {FD.TYPE_INT32, FD.TYPE_UINT32, FD.TYPE_SINT32, FD.TYPE_FIXED32, FD.TYPE_SFIXED32,
              FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64, FD.TYPE_FIXED64, FD.TYPE_SFIXED64}
_INT_RE = re.compile(r"^-?(0|[1-9][0-9]*)$")
_WKT_STRING = {"google.protobuf.Timestamp", "google.protobuf.Duration"}


def _json_value(f: FD, v: Any, at: str, depth: int) -> None:
    wrong = lambda what: fail(ErrorCode.ERROR_CODE_VALIDATION_WRONG_TYPE, f"{f.json_name}: expected {what}", at)  # noqa: E731
    if v is None:
        return
    if f.type == FD.TYPE_MESSAGE:
        if f.message_type.full_name in _WKT_STRING:
            if not isinstance(v, str):
                raise wrong("an RFC 3339 string")
            return
        if not isinstance(v, dict):
            raise wrong("an object")
        check_json(f.message_type, v, at, depth + 1)
    elif f.type == FD.TYPE_ENUM:
        if isinstance(v, str):
            if f.enum_type.values_by_name.get(v) is None:
                raise fail(ErrorCode.ERROR_CODE_VALIDATION_UNKNOWN_ENUM, f"{v} is not a {f.enum_type.full_name} value", at)
        elif isinstance(v, int) and not isinstance(v, bool):
            if f.enum_type.values_by_number.get(v) is None:
                raise fail(ErrorCode.ERROR_CODE_VALIDATION_UNKNOWN_ENUM, f"{v} is not a {f.enum_type.full_name} value", at)
        else:
            raise wrong("an enum name")
    elif f.type in _INT_TYPES:
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer()) or (isinstance(v, str) and _INT_RE.match(v))):
            raise wrong("an integer")
    elif f.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise wrong("a number")
    elif f.type == FD.TYPE_BOOL:
        if not isinstance(v, bool):
            raise wrong("a boolean")
    elif f.type in (FD.TYPE_STRING, FD.TYPE_BYTES):
        if not isinstance(v, str):
            raise wrong("a string")


class _Members(dict):
    """A parsed JSON object that remembers members it saw twice (names compared after unescaping)."""

    duplicates: list


def _members(pairs: list) -> "_Members":
    obj = _Members()
    obj.duplicates = []
    for k, v in pairs:
        if k in obj:
            obj.duplicates.append(k)
        obj[k] = v
    return obj


def parse_json_text(text: str) -> Any:
    """json.loads keeping track of duplicate members (json alone silently keeps the last)."""
    return json.loads(text, object_pairs_hook=_members)


def _first_duplicate(node: Any, pointer: str = "") -> Optional[str]:
    """The pointer of the first duplicate member in document order, or None (I-JSON, RFC 7493)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in getattr(node, "duplicates", ()):
                return _ptr(pointer, k)
            found = _first_duplicate(v, _ptr(pointer, k))
            if found:
                return found
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found = _first_duplicate(v, _ptr(pointer, i))
            if found:
                return found
    return None


def check_json(desc: Descriptor, obj: dict, pointer: str = "", depth: int = 0) -> None:
    """A JSON object against the descriptor, member by member in order (spec/signing.md "Signed JSON",
    spec/errors.md): a member that is not a field's lowerCamelCase JSON name (an unknown field, or a
    proto-name spelling such as ttl_seconds) 701; a value of the wrong JSON type 708; an unknown enum name 706."""
    if depth > MAX_DEPTH:
        raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "JSON nested too deeply", pointer)
    by_json = {f.json_name: f for f in desc.fields}
    for key, v in obj.items():
        f = by_json.get(key)
        at = _ptr(pointer, key)
        if f is None:
            raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, f"{key} is not a field of {desc.full_name} (fields are spelled by their JSON name only)", at)
        if f.label == FD.LABEL_REPEATED and not (f.message_type and f.message_type.GetOptions().map_entry):
            if v is None:
                continue
            if not isinstance(v, list):
                raise fail(ErrorCode.ERROR_CODE_VALIDATION_WRONG_TYPE, f"{key}: expected an array", at)
            for i, item in enumerate(v):
                _json_value(f, item, _ptr(at, i), depth)
        else:
            _json_value(f, v, at, depth)


def from_json(cls: Type[M], obj: Any, *, check: bool = True) -> M:
    """A message from its JSON form (a parsed object)."""
    if not isinstance(obj, dict):
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_WRONG_TYPE, f"expected a JSON object for {cls.DESCRIPTOR.full_name}")
    dup = _first_duplicate(obj)  # on the whole text before any field
    if dup is not None:
        raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "a member appears twice (not I-JSON)", dup)
    check_json(cls.DESCRIPTOR, obj)
    msg = cls()
    try:
        json_format.ParseDict(obj, msg)
    except json_format.ParseError as e:
        raise fail(ErrorCode.ERROR_CODE_VALIDATION_WRONG_TYPE, str(e)) from None
    if check:
        validate(msg)
    return msg


def from_json_bytes(cls: Type[M], data: bytes, *, check: bool = True) -> M:
    """A message from UTF-8 JSON text: 705 when not UTF-8, 701 when not JSON."""
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise fail(ErrorCode.ERROR_CODE_WIRE_INVALID_UTF8, "JSON text is not valid UTF-8") from None
    try:
        obj = parse_json_text(text)
    except ValueError:
        raise fail(ErrorCode.ERROR_CODE_WIRE_MALFORMED, "not JSON") from None
    return from_json(cls, obj, check=check)


def to_json(msg: Message) -> dict:
    """The canonical JSON form as a dict."""
    return json_format.MessageToDict(msg, preserving_proto_field_name=False)


def to_json_bytes(msg: Message) -> bytes:
    return json.dumps(to_json(msg), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


Envelope = envelope_pb2.Envelope
