"""Read an ESC/POS stream back: text rows, QR and barcode payloads, raster images, cuts.

What a printer would do with the bytes, minus the paper: tests use it to prove a slip carries the
intended data, and a station can use it to show what a job sent. It is strict on purpose: an
unknown command raises :class:`EscposParseError` instead of being skipped, so a stray byte in a
renderer shows up as a failing test, not as a garbage line on paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

# Commands with a fixed number of parameter bytes (after the command bytes).
_FIXED = {
    b"\x1b@": 0, b"\x1b2": 0, b"\x1bR": 1, b"\x1ba": 1, b"\x1bE": 1, b"\x1bJ": 1, b"\x1b3": 1, b"\x1bd": 1,
    b"\x1b!": 1, b"\x1b-": 1, b"\x1bM": 1, b"\x1bt": 1, b"\x1bG": 1, b"\x1b{": 1,
    b"\x1d!": 1, b"\x1dB": 1, b"\x1dh": 1, b"\x1dw": 1, b"\x1dH": 1, b"\x1df": 1, b"\x1dL": 2, b"\x1dW": 2,
    b"\x1c&": 0, b"\x1c.": 0, b"\x1cW": 1, b"\x10\x04": 1,
}


_INVERT = bytes(255 - v for v in range(256))


class EscposParseError(ValueError):
    """The stream holds something a printer would not understand."""


@dataclass
class Parsed:
    """Everything a printer would produce from a stream, in order."""

    lines: list[str] = field(default_factory=list)  # text rows, decoded
    qr: list[str] = field(default_factory=list)  # payloads stored with GS ( k fn 80
    qr_printed: int = 0  # GS ( k fn 81
    qr_sizes: list[int] = field(default_factory=list)  # module size (fn 67) at each print
    barcodes: list[str] = field(default_factory=list)  # CODE128 payloads, code-set prefix decoded
    rasters: list[Image.Image] = field(default_factory=list)  # GS v 0 images, 0 = black
    cuts: int = 0
    status_queries: list[int] = field(default_factory=list)  # DLE EOT n
    chinese_mode: bool = False
    events: list[tuple[str, object]] = field(default_factory=list)  # ("text"|"qr"|"barcode"|"raster"|"cut", value)


def decode_code128(data: bytes) -> str:
    """A GS k m=73 payload as the text a scanner reads (``{A``/``{B``/``{C`` switches, ``{{`` = '{')."""
    if len(data) < 2 or data[0:1] != b"{" or chr(data[1]) not in "ABC":
        raise EscposParseError(f"CODE128 data must start with a code-set selector, got {data[:2]!r}")
    out, mode, i = [], chr(data[1]), 2
    while i < len(data):
        b = data[i]
        if b == 0x7B and i + 1 < len(data):
            nxt = chr(data[i + 1])
            if nxt in "ABC":
                mode, i = nxt, i + 2
                continue
            if nxt == "{":
                out.append("{")
                i += 2
                continue
        out.append(f"{b:02d}" if mode == "C" else chr(b))
        i += 1
    return "".join(out)


def parse(stream: bytes) -> Parsed:
    """Walk ``stream`` like a printer; see :class:`Parsed` for what comes out."""
    out = Parsed()
    text = bytearray()
    i, n = 0, len(stream)
    qr_size = 3

    def flush_line() -> None:
        line = text.decode("gb18030" if out.chinese_mode else "cp437", errors="replace")
        out.lines.append(line)
        out.events.append(("text", line))
        text.clear()

    while i < n:
        b = stream[i]
        if b == 0x0A:
            flush_line()
            i += 1
            continue
        if b == 0x0D:
            i += 1
            continue
        if b in (0x1B, 0x1D, 0x1C, 0x10):
            cmd = stream[i:i + 2]
            if cmd in _FIXED:
                args = stream[i + 2:i + 2 + _FIXED[cmd]]
                if cmd == b"\x1b@":
                    out.chinese_mode = False
                elif cmd == b"\x1c&":
                    out.chinese_mode = True
                elif cmd == b"\x1c.":
                    out.chinese_mode = False
                elif cmd == b"\x1bd" and text:
                    flush_line()
                elif cmd == b"\x10\x04":
                    out.status_queries.append(args[0])
                i += 2 + _FIXED[cmd]
                continue
            if cmd == b"\x1d(" and stream[i + 2:i + 3] in (b"k", b"L"):
                size = stream[i + 3] + 256 * stream[i + 4]
                body = stream[i + 5:i + 5 + size]
                if len(body) != size:
                    raise EscposParseError(f"GS ( {chr(stream[i + 2])} truncated at byte {i}")
                if stream[i + 2:i + 3] == b"k" and body[:1] == b"1":
                    fn = body[1]
                    if fn == 67:
                        qr_size = body[2]
                    elif fn == 80:
                        payload = body[3:].decode("utf-8")
                        out.qr.append(payload)
                        out.events.append(("qr", payload))
                    elif fn == 81:
                        out.qr_printed += 1
                        out.qr_sizes.append(qr_size)
                i += 5 + size
                continue
            if cmd == b"\x1dk":
                m = stream[i + 2]
                if m < 65:  # function A: NUL-terminated
                    end = stream.index(b"\x00", i + 3)
                    data, i = stream[i + 3:end], end + 1
                else:  # function B: length byte
                    length = stream[i + 3]
                    data, i = stream[i + 4:i + 4 + length], i + 4 + length
                payload = decode_code128(data) if m == 73 else data.decode("ascii")
                out.barcodes.append(payload)
                out.events.append(("barcode", payload))
                continue
            if cmd == b"\x1dv" and stream[i + 2] in (0, 48):
                xb = stream[i + 4] + 256 * stream[i + 5]
                y = stream[i + 6] + 256 * stream[i + 7]
                data = stream[i + 8:i + 8 + xb * y]
                if len(data) != xb * y:
                    raise EscposParseError(f"GS v 0 image truncated at byte {i}")
                # Raster bits: 1 = a black dot; PIL's mode "1" has 1 = white, hence the inversion.
                img = Image.frombytes("1", (xb * 8, y), data.translate(_INVERT)).convert("L")
                out.rasters.append(img)
                out.events.append(("raster", img))
                i += 8 + xb * y
                continue
            if cmd == b"\x1dV":
                m = stream[i + 2]
                i += 4 if m in (65, 66, 97, 98, 103, 104) else 3
                out.cuts += 1
                out.events.append(("cut", m))
                continue
            raise EscposParseError(f"unknown command {stream[i:i + 3]!r} at byte {i}")
        if out.chinese_mode and b >= 0x80:
            text += stream[i:i + 2]
            i += 2
            continue
        if b < 0x20:
            raise EscposParseError(f"unexpected control byte {b:#04x} at byte {i}")
        text.append(b)
        i += 1
    if text:
        flush_line()
    return out
