"""Hostile images against the image reader: status, time, CPU seconds and peak memory per case.

    python benchmarks/hostile_inputs.py [--only NAME ...] [--small]

Each case is written to a temporary file, then decoded by :func:`mnistlab.data.user_images.load` in a fresh
child process that measures its own idle memory first (after importing the reader and decoding a tiny
image) and prints, for that one decode: accepted or the one-line refusal, wall seconds, CPU seconds and
peak RSS over idle (``ru_maxrss`` after minus before). The cases are the largest images each limit accepts
and crafted files (a 39.7 MP RGBA PNG of 160 KB, a progressive JPEG of 2,000 scans, the
186-byte TIFF whose StripOffsets tag is a FLOAT). ``--small`` runs them at a tenth of the pixels (quick).

The generators (``tiff_float_strip``, ``progressive_jpeg``, ``png_header_only``, ...) are also used by the
tests (tests/test_predict_hostile.py), at tiny sizes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib


def encode(im, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def tiff_float_strip() -> bytes:
    """186 bytes: a 4x4 grey TIFF whose StripOffsets tag has type FLOAT (Pillow raises TypeError in load)."""
    float8 = struct.unpack("<I", struct.pack("<f", 8.0))[0]
    entries = [(256, 3, 1, 4), (257, 3, 1, 4), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 11, 1, float8), (278, 3, 1, 4), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0" * 4
    data = b"II*\0" + struct.pack("<I", 8) + ifd
    return data + bytes(186 - len(data))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int, colour_type: int = 6) -> bytes:
    """A PNG that announces ``width`` x ``height`` (colour type 6: RGBA) and holds one tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0")) + _chunk(b"IEND", b"")


def _segments(data: bytes) -> list[tuple[int, bytes]]:
    """A JPEG cut into (marker, bytes) segments; a scan's segment runs to the next real marker."""
    out, i = [], 2
    while i < len(data):
        marker = data[i + 1]
        if marker == 0xD9:
            break
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        end = i + 2 + length
        if marker == 0xDA:  # entropy-coded data follows, up to a marker that is not FF00 or a restart
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8))):
                end += 1
        out.append((marker, data[i:end]))
        i = end
    return out


def progressive_jpeg(width: int, height: int, scans: int) -> bytes:
    """A progressive JPEG of a digit with ``scans`` scans: Pillow's own, its last refinement scan repeated.

    libjpeg only warns on a repeated scan, so a decoder without a scan limit does all of them; each costs
    a pass over the whole image, in a few bytes (the picture is flat).
    """
    from PIL import Image, ImageDraw

    im = Image.new("L", (width, height), 255)
    ImageDraw.Draw(im).line([(width // 2, height // 8), (width // 2, height * 7 // 8)], fill=0,
                            width=max(2, width // 20))
    segs = _segments(encode(im, "JPEG", progressive=True, quality=90))
    head = b"\xff\xd8" + b"".join(s for m, s in segs if m != 0xDA)
    sos = [s for m, s in segs if m == 0xDA]
    body = list(sos)
    while len(body) < scans:
        body.append(sos[-1])  # the last (refinement) scan again
    return head + b"".join(body[:scans]) + b"\xff\xd9"


def cases(scale: float = 1.0) -> dict[str, bytes]:
    """name -> file bytes; ``scale`` multiplies the pixel counts (0.1 for --small)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from mnistlab.data import user_images as pp

    def side(megapixels: float) -> int:
        return int((megapixels * 1e6 * scale) ** 0.5)

    def digit(mode: str, s: int, bg, ink):
        im = Image.new(mode, (s, s), bg)
        ImageDraw.Draw(im).line([(s // 2, s // 8), (s // 2, s * 7 // 8)], fill=ink, width=max(2, s // 20))
        return im

    budget = pp.MAX_DECODE_BYTES
    s_rgb, s_rgba = side(budget / 5 / 1e6 * 0.99), side(budget / 7 / 1e6 * 0.99)
    s_grey = side(pp.MAX_PIXELS / 1e6 * 0.99)
    out = {
        "png RGBA 39.7 MP (refused from the header)": png_header_only(6300, 6300, 6),
        f"png RGBA {s_rgba**2 / 1e6:.1f} MP (largest RGBA accepted)": encode(digit("RGBA", s_rgba, (0, 0, 0, 0),
                                                                                   (0, 0, 0, 255)), "PNG"),
        f"png RGB {s_rgb**2 / 1e6:.1f} MP (largest RGB accepted)": encode(digit("RGB", s_rgb, "white", "black"), "PNG"),
        f"png grey {s_grey**2 / 1e6:.1f} MP": encode(digit("L", s_grey, 255, 0), "PNG"),
        f"gif {s_grey**2 / 1e6:.1f} MP": encode(digit("L", s_grey, 255, 0).convert("P"), "GIF"),
        f"tiff grey {s_grey**2 / 1e6:.1f} MP (deflate)": encode(digit("L", s_grey, 255, 0), "TIFF",
                                                               compression="tiff_adobe_deflate"),
        f"jpeg baseline RGB {s_grey**2 / 1e6:.1f} MP": encode(digit("RGB", s_grey, "white", "black"), "JPEG"),
        f"jpeg progressive {side(36)**2 / 1e6:.1f} MP, {pp.MAX_JPEG_SCANS} scans (the cap)":
            progressive_jpeg(side(36), side(36), pp.MAX_JPEG_SCANS),
        f"jpeg progressive {side(36)**2 / 1e6:.1f} MP, 2,000 scans": progressive_jpeg(side(36), side(36), 2000),
        f"webp RGB {side(10.3)**2 / 1e6:.1f} MP (largest WebP accepted)": encode(digit("RGB", side(10.3), "white",
                                                                                      "black"), "WEBP",
                                                        quality=50, method=0),
        "tiff 186 bytes, FLOAT StripOffsets": tiff_float_strip(),
    }
    i16 = np.full((side(25), side(25)), 65535, dtype=np.uint16)
    i16[:, side(25) // 2 - 20: side(25) // 2 + 20] = 0
    out[f"png 16-bit grey {side(25)**2 / 1e6:.1f} MP"] = encode(Image.fromarray(i16), "PNG")
    return out


CHILD = r"""
import json, sys, time
from mnistlab.data import user_images
from mnistlab.errors import MnistlabError
import numpy as np
from PIL import Image
import io
buf = io.BytesIO(); Image.new("L", (64, 64), 255).save(buf, "PNG")
try: user_images.load(buf.getvalue(), "mnist")
except MnistlabError: pass
def proc_kb(key):  # kB; VmHWM is the peak RSS (ru_maxrss keeps the parent's, across fork and exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1])
open("/proc/self/clear_refs", "w").write("5")  # resets VmHWM to the current RSS
idle = proc_kb("VmRSS:")
data = open(sys.argv[1], "rb").read()
t0, c0 = time.perf_counter(), time.process_time()
try:
    user_images.load(data, "mnist"); status = "accepted"
except MnistlabError as e:
    status = "refused: " + str(e)
out = {"status": status, "seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
       "peak_mib": (proc_kb("VmHWM:") - idle) / 1024}
print(json.dumps(out))
"""


def measure(data: bytes) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".img", delete=False) as f:
        f.write(data)
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, f.name], capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        return {"status": f"CRASH rc={done.returncode}: {done.stderr.strip().splitlines()[-1:]}", "seconds": 0,
                "cpu": 0, "peak_mib": 0}
    return json.loads(done.stdout)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", help="run the cases whose name contains one of these words")
    p.add_argument("--small", action="store_true", help="a tenth of the pixels (a quick look)")
    args = p.parse_args()
    print(f"{'case':<52} {'bytes':>10} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9}  status")
    for name, data in cases(0.1 if args.small else 1.0).items():
        if args.only and not any(w in name for w in args.only):
            continue
        r = measure(data)
        print(f"{name:<52} {len(data):>10,} {r['seconds']:>7.2f} {r['cpu']:>6.2f} {r['peak_mib']:>9.0f}  "
              f"{r['status'][:110]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
