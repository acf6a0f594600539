"""Flexible character accuracy: character accuracy that a different reading order does not punish.

After Clausner, Pletschacher and Antonacopoulos (2020), "Flexible character accuracy measure for
reading-order-independent evaluation", Pattern Recognition Letters 131. Their measure tries several
penalty weightings; this one keeps their greedy line matching with one rule, so it can be computed
by hand:

1. Both texts are cut into lines (each normalised as the CER is, empty lines dropped).
2. Take the longest reference line left. For every OCR line left, place the shorter of the two in
   the longer (the fixed-length window of least edit distance, located by rapidfuzz's partial
   alignment and refined within 2 characters; for lines over 2,000 characters, a page on one line,
   the window at either end) and count the characters it gets right: the shorter
   line's length minus that edit distance. The OCR line with the most right wins (ties: the first).
3. A winner with none right leaves the reference line unmatched. Otherwise the pair's edit
   distance is counted as errors, and what the window left of the longer line on either side goes
   back among the lines left, as lines of their own (without their outer spaces): a line split or
   merged across columns costs nothing but its own errors.
4. Repeat until one side runs out. Every character of a line nobody matched is an error: a missing
   reference line as deletions, an extra OCR line as insertions.

Accuracy = 1 - errors / reference characters (the characters of the reference lines, line breaks
not counted); below 0 when the OCR adds more than it gets right, as with CER above 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

REFINE = 2  # characters either way around rapidfuzz's alignment
# Past this length the alignment costs seconds (it grows with the cube of similar lengths): such a
# line is a whole page on one line, and only the windows at either end are tried.
ALIGN_LIMIT = 2000


def _distance(a: str, b: str, bound: int | None = None) -> int:
    """Edit distance (above `bound` when it exceeds it), banded: a cutoff that doubles until it
    holds costs O(length x distance) instead of O(length^2): seconds, not minutes, on a page of
    650,000 characters on one line."""
    cutoff = 64
    while (found := Levenshtein.distance(a, b, score_cutoff=cutoff)) > cutoff:
        if bound is not None and cutoff >= bound:
            return found
        cutoff = 2 * cutoff if bound is None else min(2 * cutoff, bound)
    return found


def _window(shorter: str, longer: str) -> tuple[int, int]:
    """(start, edit distance) of the window of len(shorter) in `longer` closest to `shorter`."""
    width, last = len(shorter), len(longer) - len(shorter)
    if width > ALIGN_LIMIT:
        starts: Sequence[int] = sorted({0, last})
    else:
        found = fuzz.partial_ratio_alignment(shorter, longer)
        around = 0 if found is None else min(max(found.dest_start - found.src_start, 0), last)
        starts = range(max(0, around - REFINE), min(last, around + REFINE) + 1)
    best, least = -1, width + 1
    for start in starts:  # a later window must beat the best so far: bound the search by it
        distance = _distance(shorter, longer[start : start + width], least - 1)
        if distance < least:
            best, least = start, distance
    return best, least


def _rest(text: str, start: int, end: int) -> list[str]:
    """What is left of a line when [start, end) is taken out, as lines of their own."""
    return [part.strip() for part in (text[:start], text[end:]) if part.strip()]


def errors(reference: Sequence[str], hypothesis: Sequence[str]) -> tuple[int, int]:
    """(errors, reference characters) of the line matching above, for lines already normalised."""
    refs = [line for line in reference if line]
    hyps = [line for line in hypothesis if line]
    total = sum(map(len, refs))
    count = 0
    while refs and hyps:
        ref = max(refs, key=len)
        refs.remove(ref)
        best: tuple[int, int, int, int] | None = None  # (right, distance, hyp index, start)
        for index, hyp in enumerate(hyps):
            shorter, longer = (ref, hyp) if len(ref) <= len(hyp) else (hyp, ref)
            start, distance = _window(shorter, longer)
            right = len(shorter) - distance
            if right > 0 and (best is None or right > best[0]):
                best = (right, distance, index, start)
        if best is None:
            count += len(ref)
            continue
        _, distance, index, start = best
        hyp = hyps.pop(index)
        count += distance
        if len(ref) <= len(hyp):
            hyps[index:index] = _rest(hyp, start, start + len(ref))
        else:
            refs.extend(_rest(ref, start, start + len(hyp)))
    count += sum(map(len, refs)) + sum(map(len, hyps))
    return count, total


def accuracy(reference: Sequence[str], hypothesis: Sequence[str]) -> float | None:
    """1 - errors / reference characters; None when the reference has no characters."""
    count, total = errors(reference, hypothesis)
    return 1 - count / total if total else None
