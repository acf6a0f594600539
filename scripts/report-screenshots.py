"""Screenshots of a run's report in headless Chromium, one per section, to look at after a change
to the report's layout: `scripts/report-screenshots.py RUN_DIR OUT_DIR` (OUT_DIR/NN-section.png).

The page is taken whole at a desktop width, then cut at each section heading (the positions come
from the page itself, read in the same browser), so each picture shows one part: the summary with
its column definitions, the charts, the slices, the worst samples with their pages.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
WIDTH = 1300
# Appended to a copy of the page: writes each h2's id and top edge into the DOM, for --dump-dom.
PROBE = """<script>
window.addEventListener("load", () => {
  const tops = [...document.querySelectorAll("h2[id]")].map(h => [h.id, h.offsetTop]);
  document.body.setAttribute("data-sections", JSON.stringify(
    {height: document.documentElement.scrollHeight, tops: tops}));
});
</script>"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
         "--virtual-time-budget=5000", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def shoot(page: Path, out: Path) -> list[Path]:
    """Section screenshots of `page` (an index.html) into `out`; their paths, in page order."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        probed = page.with_name(".probed-index.html")  # beside it: same folder, same links
        probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
        try:
            dom = chromium(work / "profile", f"--window-size={WIDTH},1000", "--dump-dom",
                           probed.as_uri())  # fmt: skip
            found = re.search(r"data-sections=\"([^\"]+)\"", dom.stdout)
            if dom.returncode != 0 or found is None:
                raise SystemExit(f"chromium could not read {page}: {dom.stderr[-500:]}")
            layout = json.loads(found.group(1).replace("&quot;", '"'))
            height = int(layout["height"])
            whole = work / "whole.png"
            shot = chromium(work / "profile", f"--window-size={WIDTH},{height}",
                            f"--screenshot={whole}", page.as_uri())  # fmt: skip
            if shot.returncode != 0 or not whole.is_file():
                raise SystemExit(f"chromium took no screenshot of {page}: {shot.stderr[-500:]}")
        finally:
            probed.unlink(missing_ok=True)
        picture = Image.open(whole)
        tops = [("top", 0), *((name, int(top)) for name, top in layout["tops"])]
        written = []
        for number, (name, top) in enumerate(tops):
            bottom = tops[number + 1][1] if number + 1 < len(tops) else picture.height
            if bottom <= top:
                continue
            path = out / f"{number:02d}-{name}.png"
            picture.crop((0, top, picture.width, min(bottom, picture.height))).save(path)
            written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    page = args.run_dir / "index.html"
    if not page.is_file():
        print(f"{page}: no report; make it with `ocrbench report {args.run_dir}`", file=sys.stderr)
        return 1
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is absent (Debian's chromium package)", file=sys.stderr)
        return 1
    for path in shoot(page, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
