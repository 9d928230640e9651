"""Decoding djay Pro's "TSAF" values (the blobs in ``database2.data``).

A TSAF blob is a 20-byte header (``TSAF`` and 16 bytes we do not need) followed by
one tagged value, normally an object. Each value starts with a one-byte tag; numbers
are little-endian and aligned to their own width, counted from the start of the blob.
An object is its class name followed by ``value key`` pairs (the value comes *before*
its field name) and a 0x00 byte. Every string written with tag 0x08 joins a table of
the blob's strings; tag 0x05 and a one-byte index repeat one of them (a class name, a
field name or a value). Where each of these facts comes from, and what is still
guessed, is written down in ``docs/djay.md``.

An unknown tag stops the decoding with `TsafError`: its width is unknown, so nothing
after it can be read safely, and a guess would turn into wrong values silently.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MAGIC = b"TSAF"
HEADER_SIZE = 20
# Core Foundation's absolute time: seconds since 2001-01-01 00:00 UTC.
APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)

_F32, _F64 = struct.Struct("<f"), struct.Struct("<d")
_I16, _I32, _U32, _U64 = (struct.Struct(f) for f in ("<h", "<i", "<I", "<Q"))


class TsafError(ValueError):
    """A blob that is not TSAF, or uses an encoding this decoder does not know."""


@dataclass(slots=True)
class TsafObject:
    """One archived object: its class name and its fields by name."""

    class_name: str
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


@dataclass(frozen=True, slots=True)
class Opaque:
    """A zero-width value whose meaning is not known (tags 0x2D and 0x2E).

    Seen where djay has no answer yet (a key not determined); read as "not set".
    """

    tag: int


def decode(blob: bytes) -> Any:
    """The value a TSAF blob holds (normally a `TsafObject`)."""
    if len(blob) < HEADER_SIZE or blob[:4] != MAGIC:
        raise TsafError("not a TSAF value (no TSAF header)")
    reader = _Reader(blob)
    value = reader.value()
    return value


class _Reader:
    __slots__ = ("data", "pos", "strings")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = HEADER_SIZE
        self.strings: list[str] = []

    # -- primitives ---------------------------------------------------------------

    def _byte(self) -> int:
        if self.pos >= len(self.data):
            raise TsafError(f"value cut short at byte {self.pos}")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def _aligned(self, fmt: struct.Struct) -> Any:
        width = fmt.size
        self.pos += -self.pos % width
        end = self.pos + width
        if end > len(self.data):
            raise TsafError(f"value cut short at byte {self.pos}")
        value = fmt.unpack_from(self.data, self.pos)[0]
        self.pos = end
        return value

    def _cstring(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise TsafError(f"unterminated string at byte {self.pos}")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TsafError(f"string at byte {self.pos} is not UTF-8") from exc
        self.strings.append(text)
        return text

    def _string_ref(self) -> str:
        index = self._byte()
        if index >= len(self.strings):
            raise TsafError(
                f"string reference {index} at byte {self.pos - 1} beyond the "
                f"{len(self.strings)} strings read so far"
            )
        return self.strings[index]

    def string(self) -> str:
        """A string written in full (0x08) or repeated (0x05); anything else is an error."""
        tag = self._byte()
        if tag == 0x08:
            return self._cstring()
        if tag == 0x05:
            return self._string_ref()
        raise TsafError(f"expected a string at byte {self.pos - 1}, found tag 0x{tag:02x}")

    # -- values -------------------------------------------------------------------

    def value(self) -> Any:
        tag = self._byte()
        if tag == 0x08:
            return self._cstring()
        if tag == 0x05:
            return self._string_ref()
        if tag == 0x2B:
            return self._object()
        if tag == 0x0B:
            count = self._aligned(_U32)
            if count > len(self.data):
                raise TsafError(
                    f"array of {count} items at byte {self.pos} is longer than the blob"
                )
            return [self.value() for _ in range(count)]
        if tag == 0x13:
            return self._aligned(_F32)
        if tag == 0x14:
            return self._aligned(_F64)
        if tag == 0x30:
            return APPLE_EPOCH + timedelta(seconds=self._aligned(_F64))
        if tag == 0x0F:
            return self._byte()
        if tag == 0x0A:
            return self._aligned(_I16)
        if tag == 0x0C:
            return self._aligned(_I32)
        if tag in (0x11, 0x1A):
            return self._aligned(_U32)
        if tag == 0x12:
            return self._aligned(_U64)
        if tag == 0x0D:
            return False
        if tag == 0x0E:
            return True
        if tag == 0x15:
            size = self._aligned(_U32)
            end = self.pos + size
            if end > len(self.data):
                raise TsafError(f"data of {size} bytes at byte {self.pos} runs past the blob")
            chunk = self.data[self.pos : end]
            self.pos = end
            return chunk
        if tag == 0x21:  # a URL: the string that follows
            return self.string()
        if tag in (0x2D, 0x2E):
            return Opaque(tag)
        if tag == 0x00:
            return None
        raise TsafError(f"unknown value type 0x{tag:02x} at byte {self.pos - 1}")

    def _object(self) -> TsafObject:
        obj = TsafObject(self.string())
        data = self.data
        while True:
            if self.pos >= len(data):
                raise TsafError(f"object {obj.class_name} is not closed")
            if data[self.pos] == 0x00:
                self.pos += 1
                return obj
            value = self.value()
            obj.fields[self.string()] = value
