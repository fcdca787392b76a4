#!/usr/bin/env bash
# `lcb report --html` in a real browser: headless Chromium (Debian's package) opens the report
# page, a question page and a comparison page made from a small real results tree; each must
# load without a single console message, hold its charts as SVG in the rendered DOM, and
# render them (a screenshot, with enough chart-coloured pixels). A page with a script error and
# one whose chart draws nothing are checked the same way first and must fail, so the check can.
#
#   bash lcb-cli/tests/browser/check_html_report.sh      # as root (installs chromium if absent)
#
# Environment: LCB_BIN (default target/debug/lcb, as `make test` leaves it), LCB_PYTHON
# (default .venv/bin/python), LCB_SCREENSHOTS (default benches/out/browser): where the
# screenshots are written, their paths printed.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$REPO"
LCB=${LCB_BIN:-target/debug/lcb}
export LCB_PYTHON=${LCB_PYTHON:-$REPO/.venv/bin/python}
SHOTS=${LCB_SCREENSHOTS:-$REPO/benches/out/browser}
say() { echo "browser: $*"; }

if ! command -v chromium >/dev/null; then
  say "installing chromium (Debian package)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null
fi
[ -x "$LCB" ] || cargo build -q -p lcb-cli
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$SHOTS"

# A real tree: the fixture model on six questions at three temperatures.
sweep() {
  "$LCB" sweep --problems fixtures/problems/lcb_fixtures.jsonl --questions 0..6 \
    --temperatures 0.2,0.8,1.4 -n 4 --max-tokens 96 --no-skip --seed "$1" --output "$2" \
    >"$WORK/sweep.log" 2>&1 || { cat "$WORK/sweep.log"; exit 1; }
}
sweep 0 "$WORK/a"
sweep 1 "$WORK/b"
"$LCB" report "$WORK/a" --html "$WORK/report.html" >/dev/null 2>&1
"$LCB" report "$WORK/a" --question 0 --html "$WORK/question.html" >/dev/null 2>&1
"$LCB" report "$WORK/a" "$WORK/b" --html "$WORK/compare.html" >/dev/null 2>&1
cat > "$WORK/broken.html" <<'HTML'
<!DOCTYPE html><html><body><svg width="10" height="10"></svg>
<script>console.error("broken on purpose"); undefinedFunction();</script></body></html>
HTML
# A chart that draws nothing: only the screenshot can tell.
cat > "$WORK/blank.html" <<'HTML'
<!DOCTYPE html><html><body><h1>lcb report</h1><svg width="800" height="500"></svg>
<table><tr><th>T</th><th>pass@1</th></tr><tr><td>0.2</td><td>50%</td></tr></table></body></html>
HTML

# check NAME: loads $WORK/NAME.html; fails (exit 1) with the reason.
check() {
  local name=$1 page="file://$WORK/$1.html" shot="$SHOTS/$1.png"
  local flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    "--user-data-dir=$WORK/profile-$name" --window-size=1280,1600)
  timeout 120 chromium "${flags[@]}" --enable-logging=stderr --log-level=0 \
    "--screenshot=$shot" "$page" 2>"$WORK/$name.log" >/dev/null
  if grep -q ":CONSOLE" "$WORK/$name.log"; then
    echo "$name: console messages:"; grep ":CONSOLE" "$WORK/$name.log"; return 1
  fi
  timeout 120 chromium "${flags[@]}" --dump-dom "$page" 2>/dev/null >"$WORK/$name.dom"
  local charts
  charts=$(grep -o "<svg" "$WORK/$name.dom" | wc -l)
  [ "$charts" -ge 1 ] || { echo "$name: no chart in the rendered page"; return 1; }
  python3 - "$shot" "$name" <<'PY'
import struct, sys, zlib
path, name = sys.argv[1:]
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{name}: not a PNG"
pos, chunks = 8, {}
idat = b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, color = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
assert depth == 8 and color in (2, 6), f"{name}: unexpected PNG format {depth}/{color}"
bpp = 4 if color == 6 else 3
raw, stride = zlib.decompress(idat), width * bpp
rows, prev, at = [], bytearray(stride), 0
for _ in range(height):
    f, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
    at += 1 + stride
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
# Chart colours: coloured pixels (lines, bands, heat maps), not white, grey or black text,
# which is all a page without its charts would show.
coloured = sum(
    1 for line in rows for i in range(0, stride, bpp)
    if max(line[i:i + 3]) - min(line[i:i + 3]) > 16
)
share = coloured / (width * height)
print(f"{name}: {width}x{height} screenshot, {share:.1%} coloured pixels")
assert share > 0.02, f"{name}: the charts did not render ({share:.2%} coloured pixels)"
PY
}

if check broken >/dev/null 2>&1; then
  say "FAIL: a page with a script error passed the check"; exit 1
fi
say "ok: a page with a script error fails the check"
if check blank >/dev/null 2>&1; then
  say "FAIL: a page whose chart draws nothing passed the check"; exit 1
fi
say "ok: a page whose chart draws nothing fails the check"
for page in report question compare; do
  check "$page"
  say "ok: $page page: no console message, charts in the DOM and on screen ($SHOTS/$page.png)"
done
say "3 pages passed"
