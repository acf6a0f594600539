"""The report in a real browser: headless Chromium loads it with no console message, every chart
decodes as an image, and a screenshot shows a page (look at it when you change the layout)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ocrbench import report, results

from test_plots import fabricate, records, sweep_configs

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is absent (Debian's `chromium` package; make setup installs it)",
    ),
]

# Appended to a copy of the page: the report itself has no script at all.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const decoded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-probe", `${decoded}/${images.length}`);
});
</script>"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run")
    results.write(root, records(fabricate(*sweep_configs())), {"command": "browser"})
    return report.render(root)


def test_page_loads_without_console_messages_and_every_chart_decodes(
    page: Path, tmp_path: Path
) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    done = chromium(tmp_path / "profile", "--dump-dom", probed.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert 'data-probe="7/7"' in done.stdout  # one model repo: the by-model chart is left out
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', done.stdout)) == 7
    assert "Best configuration per time budget" in done.stdout


def test_screenshot_shows_the_page(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2400",
                    "--hide-scrollbars", page.as_uri())  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:4] == b"\x89PNG"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2400)
    assert len(data) > 100_000  # a page of tables and charts, not a blank canvas


def test_the_screenshot_script_takes_each_section(page: Path, tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "report-screenshots.py"
    done = subprocess.run([sys.executable, str(script), str(page.parent), str(tmp_path / "shots")],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    names = [Path(line).name for line in done.stdout.split()]
    assert names[:4] == ["00-top.png", "01-summary.png", "02-budgets.png", "03-charts.png"]
    assert "04-worst.png" in names and names[-1].endswith("-manifest.png")
    for name in names:
        data = (tmp_path / "shots" / name).read_bytes()
        assert data[:4] == b"\x89PNG" and int.from_bytes(data[16:20], "big") == 1300
