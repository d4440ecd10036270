from . import errors_pb2 as _errors_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
RECEIPT_STATUS_ACCEPTED: ReceiptStatus
RECEIPT_STATUS_FAILED: ReceiptStatus
RECEIPT_STATUS_PROCESSED: ReceiptStatus
RECEIPT_STATUS_REJECTED: ReceiptStatus
RECEIPT_STATUS_TIMED_OUT: ReceiptStatus
RECEIPT_STATUS_UNSPECIFIED: ReceiptStatus

class Receipt(_message.Message):
    __slots__ = ["code", "detail", "exit_code", "message_id", "retry_after_ms", "status"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    code: _errors_pb2.ErrorCode
    detail: str
    exit_code: int
    message_id: str
    retry_after_ms: int
    status: ReceiptStatus
    def __init__(self, message_id: _Optional[str] = ..., status: _Optional[_Union[ReceiptStatus, str]] = ..., code: _Optional[_Union[_errors_pb2.ErrorCode, str]] = ..., detail: _Optional[str] = ..., retry_after_ms: _Optional[int] = ..., exit_code: _Optional[int] = ...) -> None: ...

class ReceiptStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
