"""Text boxes (EasyOCR's, RapidOCR's) back into lines in reading order.

Engines that detect text boxes return them in no useful order, each holding a word or a run of
words. To compare their text with Tesseract's, the boxes are put back into lines: boxes whose
vertical centres lie within half the median box height of each other share a line, read left to
right; lines go top to bottom. That reads a page straight across, as Tesseract's `psm=6` does.
`columns=True` first cuts the page at the white gutters between columns of prose (a recursive
XY-cut), as a magazine is read.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from ocrbench.types import Word

Box = tuple[int, int, int, int]  # left, top, width, height, as in `Word.box`


def bounding_box(points: Sequence[Sequence[float]]) -> Box:
    """A detector's four corner points (a quadrilateral) as (left, top, width, height)."""
    xs = [float(x) for x, _ in points]
    ys = [float(y) for _, y in points]
    left, top = round(min(xs)), round(min(ys))
    return left, top, round(max(xs)) - left, round(max(ys)) - top


def group_lines(boxes: Sequence[Box]) -> list[list[int]]:
    """The indices of `boxes` in reading order: a list per line, top to bottom, each line left to
    right. A box joins a line when its vertical centre is within half the median box height of the
    line's (mean) centre; boxes are taken top to bottom, so each line is built in one pass."""
    if not boxes:
        return []
    tolerance = statistics.median(height for _, _, _, height in boxes) / 2
    lines: list[list[int]] = []
    centres: list[float] = []  # the running mean of each line's vertical centres
    for index in sorted(range(len(boxes)), key=lambda i: _centre(boxes[i])):
        centre = _centre(boxes[index])
        if lines and abs(centre - centres[-1]) <= tolerance:
            lines[-1].append(index)
            centres[-1] += (centre - centres[-1]) / len(lines[-1])
        else:
            lines.append([index])
            centres.append(centre)
    return [sorted(line, key=lambda i: boxes[i][0]) for line in lines]


def _centre(box: Box) -> float:
    return box[1] + box[3] / 2


# The XY-cut cuts at white strips wider than a quarter of a line height: EasyOCR's boxes of one
# paragraph touch or overlap, so its lines are not cut apart. Only columns at least ten line heights
# wide count: prose columns run to 25+ characters (a character is about half a line height), a
# table's columns of figures to fewer, and a table is read row by row.
MIN_GAP_LINES = 0.25
COLUMN_LINES = 10


def column_lines(boxes: Sequence[Box]) -> list[list[int]]:
    """Like `group_lines`, but columns of prose are read one after another (a recursive XY-cut):
    a region is cut at gutters that run its whole height, else into bands at the horizontal white
    strips that run its whole width, and what can be cut no more is grouped into lines."""
    if not boxes:
        return []
    line_height = statistics.median(box[3] for box in boxes)
    gap, min_width = MIN_GAP_LINES * line_height, COLUMN_LINES * line_height

    def cut(region: list[int]) -> list[list[int]]:
        columns = _runs(boxes, region, axis=0, min_gap=gap)
        if len(columns) > 1 and all(_width(boxes, column) >= min_width for column in columns):
            return [line for column in columns for line in cut(column)]
        bands = _runs(boxes, region, axis=1, min_gap=gap)
        if len(bands) > 1:
            return [line for band in bands for line in cut(band)]
        lines = group_lines([boxes[i] for i in region])
        return [[region[i] for i in line] for line in lines]

    return cut(list(range(len(boxes))))


def _runs(boxes: Sequence[Box], region: list[int], axis: int, min_gap: float) -> list[list[int]]:
    """The region's boxes split where they leave a gap wider than `min_gap` along an axis (0: x,
    1: y), in order along it."""
    runs: list[list[int]] = []
    end = -float("inf")
    for i in sorted(region, key=lambda i: boxes[i][axis]):
        start, stop = boxes[i][axis], boxes[i][axis] + boxes[i][axis + 2]
        if not runs or start - end > min_gap:
            runs.append([])
        runs[-1].append(i)
        end = max(end, stop)
    return runs


def _width(boxes: Sequence[Box], region: list[int]) -> int:
    return max(boxes[i][0] + boxes[i][2] for i in region) - min(boxes[i][0] for i in region)


def layout_text(words: Sequence[Word], columns: bool = False) -> str:
    """The words' text as lines: single spaces within a line (an engine's own text sometimes has
    two), a newline between lines."""
    boxes = [word.box or (0, 0, 0, 0) for word in words]
    lines = column_lines(boxes) if columns else group_lines(boxes)
    return "\n".join(" ".join(" ".join(words[i].text.split()) for i in line) for line in lines)
