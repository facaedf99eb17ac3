"""Render ``hybridperf report`` in headless Chromium and check what the browser built.

::

    python -m benchmarks.render_report                      # squeezenet1_1 on t4
    python -m benchmarks.render_report MODEL --device l4 --png out.png

Steps: predict the model, write the HTML page (:mod:`hybridperf.report.html`),
load it in headless Chromium twice (``--dump-dom`` for the DOM the browser
parsed, ``--screenshot`` for a PNG), then check

* the DOM holds one roofline dot per timed kernel, placed left to right in
  order of arithmetic intensity, the bandwidth slope and one roof per
  precision, one latency bar and one traffic bar per non-zero-cost kernel, and
  the memory-over-time curve with the predicted peak;
* nothing external is referenced (no script, stylesheet link, image or URL);
* the PNG has the requested size and is not blank.

The page has no JavaScript, so the DOM Chromium dumps is the parsed markup:
the check proves that a real browser parses every chart element, not only
that the file contains the strings. Exit status 0 when every check passes, 1
when one fails, 2 when Chromium is missing or fails to run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: executable names tried in order (``$CHROMIUM`` overrides)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

#: flags for a hermetic headless run: no network, no profile reuse, no sandbox (containers)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

#: a blank page compresses to a few KiB; a rendered report is far larger
MIN_PNG_BYTES = 20_000


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    env = os.environ.get("CHROMIUM")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class ChromiumError(RuntimeError):
    """Chromium failed to start or to load the page."""


def _chromium(binary: str, args: list[str], timeout_s: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="hybridperf-chromium-") as profile:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise ChromiumError(f"chromium did not finish in {timeout_s:.0f} s") from exc
    if res.returncode != 0:
        tail = " | ".join(res.stderr.strip().splitlines()[-3:])
        raise ChromiumError(f"chromium exited {res.returncode}: {tail}")
    return res


def dump_dom(binary: str, html_path: Path, timeout_s: float = 120.0) -> str:
    """The serialized DOM after Chromium loaded ``html_path``."""
    res = _chromium(binary, ["--dump-dom", html_path.resolve().as_uri()], timeout_s)
    if "<svg" not in res.stdout:
        raise ChromiumError("chromium dumped no DOM with an <svg> element")
    return res.stdout


def screenshot(binary: str, html_path: Path, png_path: Path, window: tuple[int, int], timeout_s: float = 120.0) -> Path:
    """Render ``html_path`` into ``png_path`` at ``window`` = (width, height) pixels."""
    png_path.parent.mkdir(parents=True, exist_ok=True)
    png_path.unlink(missing_ok=True)
    w, h = window
    _chromium(binary, [f"--screenshot={png_path.resolve()}", f"--window-size={w},{h}", html_path.resolve().as_uri()], timeout_s)
    if not png_path.exists():
        raise ChromiumError(f"chromium wrote no screenshot to {png_path}")
    return png_path


# --------------------------------------------------------------- DOM check ----


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[_Element] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append(_Element(tag, {k: v or "" for k, v in attrs}))

    handle_startendtag = handle_starttag


@dataclass
class DomReport:
    """What the page holds, and the checks that failed (empty: all passed)."""

    kernel_dots: int = 0
    roofs: int = 0
    latency_bars: int = 0
    traffic_bars: int = 0
    memory_curves: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def elements(markup: str) -> list[_Element]:
    """Every start tag of ``markup`` with its attributes, in document order."""
    c = _Collector()
    c.feed(markup)
    c.close()
    return c.elements


def check_dom(markup: str, pred) -> DomReport:
    """Check the report markup (raw or browser-dumped) against the prediction it shows."""
    from hybridperf.costs import Status

    els = elements(markup)
    rep = DomReport()
    fail = rep.failures.append

    def of(tag, cls):
        return [e for e in els if e.tag == tag and cls in e.attrs.get("class", "").split()]

    # self-contained: nothing fetched
    for e in els:
        if e.tag in ("script", "link", "img", "iframe", "object", "embed", "image", "use"):
            fail(f"external-capable element <{e.tag}>")
        for k in ("src", "href", "xlink:href"):
            if k in e.attrs and not e.attrs[k].startswith("#"):
                fail(f"<{e.tag} {k}={e.attrs[k]!r}>")
    if "://" in markup:
        fail("a URL ('://') appears in the page")

    timed = [k for k in pred.kernels if k.kernel.counts_toward_time]
    shown = [k for k in pred.kernels if k.kernel.status is not Status.ZERO_COST]
    dots = of("circle", "kernel")
    rep.kernel_dots = len(dots)
    if len(dots) != len(timed):
        fail(f"{len(dots)} roofline dots for {len(timed)} timed kernels")
    # placement: x grows with arithmetic intensity (log axis), dots with an AI only
    placed = sorted((float(d.attrs["data-ai"]), float(d.attrs["cx"])) for d in dots if d.attrs.get("data-ai"))
    if not placed:
        fail("no roofline dot has an arithmetic intensity")
    if any(b[1] < a[1] for a, b in zip(placed, placed[1:])):
        fail("roofline dots are not ordered by arithmetic intensity along x")
    by_name = {k.kernel.name: k for k in timed}
    for d in dots:
        k = by_name.get(d.attrs.get("data-kernel"))
        if k is None:
            fail(f"roofline dot for unknown kernel {d.attrs.get('data-kernel')!r}")
            continue
        c = k.kernel.cost
        traffic = c.bytes_read + c.bytes_written
        want = c.flops / traffic if c.flops and traffic else None
        got = float(d.attrs["data-ai"]) if d.attrs.get("data-ai") else None
        if (want is None) != (got is None) or (want is not None and abs(got - want) > 1e-9 * want):
            fail(f"dot {k.kernel.name}: arithmetic intensity {got} != {want}")
    roofs = of("line", "roof")
    rep.roofs = len(roofs)
    if sorted(r.attrs.get("data-precision") for r in roofs) != sorted(pred.spec.peak_flops_per_s):
        fail(f"roofs {[r.attrs.get('data-precision') for r in roofs]} != device precisions {sorted(pred.spec.peak_flops_per_s)}")
    if len(of("line", "roof-bandwidth")) != 1:
        fail("no DRAM bandwidth slope")
    rep.latency_bars = len(of("rect", "bar-latency"))
    rep.traffic_bars = len(of("rect", "bar-traffic"))
    if rep.latency_bars != len(shown) or rep.traffic_bars != len(shown):
        fail(f"{rep.latency_bars} latency / {rep.traffic_bars} traffic bars for {len(shown)} kernels")
    bar_lat = sum(float(b.attrs["data-latency-s"]) for b in of("rect", "bar-latency"))
    if abs(bar_lat - pred.latency_s) > 1e-9 * max(pred.latency_s, 1e-12) + 1e-15:
        fail(f"latency bars sum to {bar_lat} s, prediction is {pred.latency_s} s")
    curves = of("polygon", "memory-curve")
    rep.memory_curves = len(curves)
    m = pred.memory
    if m.timeline_bytes:
        if len(curves) != 1:
            fail(f"{len(curves)} memory curves, want 1")
        else:
            c = curves[0].attrs
            if int(c["data-peak-activation-bytes"]) != max(m.timeline_bytes) or int(c["data-steps"]) != len(m.timeline_bytes):
                fail("memory curve does not show the plan's timeline")
            if len(c["points"].split()) != 2 * len(m.timeline_bytes) + 2:
                fail("memory curve has the wrong number of points")
        levels = {int(e.attrs["data-bytes"]) for e in of("line", "memory-level")}
        if m.peak_bytes not in levels:
            fail(f"no line at the runtime peak {m.peak_bytes} B")
    return rep


# --------------------------------------------------------------- PNG check ----


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; raises ValueError if not a PNG."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])


def png_nonwhite_share(path: Path) -> float:
    """Share of pixels that are not pure white (8-bit RGB/RGBA, non-interlaced PNGs)."""
    data = path.read_bytes()
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color, _, _, interlace = ihdr
    if depth != 8 or color not in (2, 6) or interlace:
        raise ValueError(f"{path}: only 8-bit RGB/RGBA non-interlaced PNGs are decoded")
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    nonwhite = 0
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        nonwhite += sum(1 for x in range(0, stride, bpp) if line[x : x + 3] != b"\xff\xff\xff")
        prev = line
    return nonwhite / (w * h)


# -------------------------------------------------------------------- main ----


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default=os.path.relpath(ROOT / "examples" / "squeezenet1_1.onnx"))
    ap.add_argument("--device", "-d", default="t4")
    ap.add_argument("--png", default=str(ROOT / "benchmarks" / "results" / "report_squeezenet.png"), help="screenshot path")
    ap.add_argument("--html", help="keep the page here (default: a temporary file)")
    ap.add_argument("--window", default="1280x2200", help="screenshot size WIDTHxHEIGHT in pixels")
    args = ap.parse_args(argv)

    binary = find_chromium()
    if binary is None:
        print("render_report: no chromium found (install it, e.g. apt-get install chromium, or set CHROMIUM)", file=sys.stderr)
        return 2
    w, h = (int(v) for v in args.window.lower().split("x"))

    from hybridperf.api import predict
    from hybridperf.report.html import write_html

    pred = predict(args.model, args.device)
    with tempfile.TemporaryDirectory(prefix="hybridperf-report-") as tmp:
        html_path = write_html(pred, args.html or Path(tmp) / "report.html")
        raw = check_dom(html_path.read_text(encoding="utf-8"), pred)
        try:
            dom = dump_dom(binary, html_path)
            png = screenshot(binary, html_path, Path(args.png), (w, h))
        except ChromiumError as exc:
            print(f"render_report: {exc}", file=sys.stderr)
            return 2
    browser = check_dom(dom, pred)
    failures = [f"raw: {f}" for f in raw.failures] + [f"chromium DOM: {f}" for f in browser.failures]
    size = png_size(png)
    if size != (w, h):
        failures.append(f"screenshot is {size[0]}x{size[1]}, asked for {w}x{h}")
    nbytes = png.stat().st_size
    ink = png_nonwhite_share(png)
    if nbytes < MIN_PNG_BYTES or ink < 0.02:
        failures.append(f"screenshot looks blank ({nbytes} bytes, {ink:.1%} non-white pixels)")
    print(f"model {args.model} on {pred.spec.id}: {len(pred.kernels)} kernels, latency {pred.latency_s * 1e6:.1f} us")
    print(
        f"chromium DOM: {browser.kernel_dots} roofline dots, {browser.roofs} roofs, {browser.latency_bars} latency bars, "
        f"{browser.traffic_bars} traffic bars, {browser.memory_curves} memory curve"
    )
    print(f"screenshot {png} {size[0]}x{size[1]}, {nbytes / 1024:.0f} KiB, {ink:.1%} non-white pixels")
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    print("render check: " + ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
