"""JSON text as the CLI writes it (`svc`/`audit -o json|jsonl`, `checks -o json`, `rbac -o json`), encoded
with msgspec: the same bytes `json.dumps(obj, indent=...)` gave, several times faster (the standard library
falls back to its pure-Python encoder whenever it indents).

Byte for byte as before: keys in insertion order, `indent` spaces per level with ", "/": " separators (compact
without an indent), and ASCII only: msgspec writes UTF-8, so every character outside printable ASCII
(DEL and beyond; control characters are already escaped) becomes a `\\uXXXX` escape, astral ones as a
surrogate pair, as `ensure_ascii` does. One difference remains and no output has it: floats in exponent
form (`1e16`, not `1e+16`); the reports hold no floats (the schemas declare no `number`).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()
_NOT_ASCII = re.compile(r"[^\x00-\x7e]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def dumps(obj: Any, indent: int = 0) -> str:
    """`json.dumps(obj, indent=indent or None, separators=...)` as the CLI wrote it: `indent` > 0 pretty-prints,
    0 is compact (`separators=(",", ":")`)."""
    raw = _ENCODER.encode(obj)
    if indent:
        raw = msgspec.json.format(raw, indent=indent)
    text = raw.decode()
    return text if text.isascii() and "\x7f" not in text else _NOT_ASCII.sub(_escape, text)
