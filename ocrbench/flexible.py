"""Flexible character accuracy: character accuracy that a different reading order does not punish.

After Clausner, Pletschacher and Antonacopoulos (2020), "Flexible character accuracy measure for
reading-order-independent evaluation", Pattern Recognition Letters 131. Their measure tries several
penalty weightings; this one keeps their greedy line matching with one rule, so it can be computed
by hand; like theirs it agrees with the ordinary character edits where the reading order is right
(a line against a line: exactly its edit distance, where the two have a character in common):

1. Both texts are cut into lines (each normalised as the CER is, empty lines dropped).
2. Take the longest reference line left. For every OCR line left, place the shorter of the two in
   the longer: match it against the substring of the longer line it aligns with best, the ends of
   that substring free (a semi-global alignment: least edit distance; of equally close substrings
   the one ending last, then the longest). Its length need not be the shorter line's, so an
   inserted or deleted character costs one edit and pushes nothing out. The characters the shorter
   line gets right are its length minus that edit distance; the OCR line with the most right wins
   (ties: the first).
3. A winner with none right leaves the reference line unmatched. Otherwise the pair's edit
   distance is counted as errors, and what the substring left of the longer line on either side
   goes back among the lines left, as lines of their own, without their outer spaces: a line split
   or merged across columns costs nothing but its own errors, the space where it was cut being a
   line break. Should such a left-over line stay unmatched, those spaces count as errors with its
   characters. Where no line is left that the rest could be matched with (the shorter line's side
   has run out), and the pair's edit distance and the left-over characters (spaces included) add
   up to more than the two whole lines' edit distance, the whole lines are paired instead: so a
   line against a line costs exactly their edit distance.
4. Repeat until one side runs out. Every character of a line nobody matched is an error: a missing
   reference line as deletions, an extra OCR line as insertions.

Accuracy = 1 - errors / reference characters (the characters of the reference lines, line breaks
not counted); below 0 when the OCR adds more than it gets right, as with CER above 1.

Speed: rapidfuzz's longest common subsequence bounds the characters right of every pair from
above, and only the pairs that could still win are aligned; a line more than three times longer
than the other is searched around rapidfuzz's partial alignment only; lines over 2,000 characters
(a page on one line) are matched whole or at either end only.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq, Levenshtein

# Past this length the alignment costs seconds (it grows with the cube of similar lengths): such a
# line is a whole page on one line, and only the whole line and the windows at either end are tried.
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


def _closest_end(pattern: str, text: str) -> tuple[int, int]:
    """(distance, end) of the substring of `text` closest to `pattern` (the last end of least
    distance): Myers' bit-parallel approximate matching (1999), one machine word per 64
    characters of the pattern, the row of the alignment that starts anywhere in `text`."""
    size = len(pattern)
    masks: dict[str, int] = {}
    for position, char in enumerate(pattern):
        masks[char] = masks.get(char, 0) | 1 << position
    full, top = (1 << size) - 1, 1 << (size - 1)
    positive, negative, score = full, 0, size
    best, end = size, 0  # the empty substring
    for index, char in enumerate(text, 1):
        equal = masks.get(char, 0)
        vertical = equal | negative
        horizontal = (((equal & positive) + positive) ^ positive) | equal
        up = negative | (full & ~(horizontal | positive))
        down = positive & horizontal
        if up & top:
            score += 1
        elif down & top:
            score -= 1
        up, down = (up << 1) & full, (down << 1) & full  # no carry in: the start is free
        positive = down | (full & ~(vertical | up))
        negative = up & vertical
        if score <= best:
            best, end = score, index
    return best, end


def _region(shorter: str, longer: str) -> tuple[int, int]:
    """Where in `longer` to look for `shorter`: all of it, but around rapidfuzz's partial alignment
    (the shorter line's length either way) where it is more than three times longer."""
    size, length = len(shorter), len(longer)
    if size > ALIGN_LIMIT or length <= 3 * size + 64:
        return 0, length
    found = fuzz.partial_ratio_alignment(shorter, longer)
    if found is None:
        return 0, length
    return max(0, found.dest_start - size), min(length, found.dest_end + size)


def _closest(
    shorter: str, longer: str, region: tuple[int, int], bound: int
) -> tuple[int, int, int]:
    """(edit distance, start, end) of the substring of `longer` (within `region`) closest to
    `shorter`, as step 2 of the module's description says; a distance above `bound` only says
    that it is above."""
    size, length = len(shorter), len(longer)
    if size > ALIGN_LIMIT:
        best = (bound + 1, 0, length)
        for start, end in dict.fromkeys(((0, length), (0, size), (length - size, length))):
            distance = _distance(shorter, longer[start:end], best[0] - 1)
            if distance < best[0]:
                best = (distance, start, end)
        return best
    low, high = region
    distance, end = _closest_end(shorter, longer[low:high])
    end += low
    if distance >= size:
        return distance, end, end
    # The longest substring ending there at that distance: its length is within the distance of
    # the shorter line's.
    for start in range(max(low, end - size - distance), end - size + distance + 1):
        if Levenshtein.distance(shorter, longer[start:end], score_cutoff=distance) <= distance:
            return distance, start, end
    raise AssertionError("unreachable: the alignment has a start")  # pragma: no cover


def _rest(text: str, start: int, end: int) -> list[tuple[str, int]]:
    """What is left of a line when [start, end) is taken out, as lines of their own: each without
    its outer spaces, and how many those were (errors only if nothing matches the line)."""
    return [
        (part.strip(), len(part) - len(part.strip()))
        for part in (text[:start], text[end:])
        if part.strip()
    ]


def _best(ref: str, hyps: Sequence[str]) -> tuple[int, int, int, int] | None:
    """(hyp index, distance, start, end) of the OCR line that gets most of `ref` right, or None
    where none gets any right. A pair gets at most its longest common subsequence right: pairs are
    aligned in the order of that bound, until no other can win."""
    bounds = []
    for index, hyp in enumerate(hyps):
        shorter, longer = (ref, hyp) if len(ref) <= len(hyp) else (hyp, ref)
        most = len(shorter) if len(shorter) > ALIGN_LIMIT else LCSseq.similarity(shorter, longer)
        bounds.append((-most, index))
    bounds.sort()
    best: tuple[int, int, int, int] | None = None
    right_best = 0

    def beaten(most: int, index: int) -> bool:  # `most` right cannot win against the best so far
        return most < right_best or (most == right_best and (best is None or index > best[0]))

    for negative, index in bounds:
        if beaten(-negative, index):
            break
        hyp = hyps[index]
        shorter, longer = (ref, hyp) if len(ref) <= len(hyp) else (hyp, ref)
        region = _region(shorter, longer)
        if region != (0, len(longer)) and beaten(
            LCSseq.similarity(shorter, longer[region[0] : region[1]]), index
        ):
            continue
        distance, start, end = _closest(shorter, longer, region, len(shorter) - right_best)
        right = len(shorter) - distance
        if right > right_best or (right == right_best and best is not None and index < best[0]):
            best, right_best = (index, distance, start, end), right
    return best


def errors(reference: Sequence[str], hypothesis: Sequence[str]) -> tuple[int, int]:
    """(errors, reference characters) of the line matching above, for lines already normalised."""
    # (line, outer spaces cut off it): a line left over from another, its spaces errors if unmatched
    refs = [(line, 0) for line in reference if line]
    hyps = [(line, 0) for line in hypothesis if line]
    total = sum(len(line) for line, _ in refs)
    count = 0
    while refs and hyps:
        ref, spaces = max(refs, key=lambda line: len(line[0]))
        refs.remove((ref, spaces))
        best = _best(ref, [hyp for hyp, _ in hyps])
        if best is None:
            count += len(ref) + spaces
            continue
        index, distance, start, end = best
        hyp, _ = hyps.pop(index)
        shorter, longer = (ref, hyp) if len(ref) <= len(hyp) else (hyp, ref)
        rest = _rest(longer, start, end)
        if rest and not (refs if len(ref) <= len(hyp) else hyps):  # nothing left to match the rest
            cost = distance + sum(len(line) + cut for line, cut in rest)
            whole = _distance(shorter, longer, cost)
            if whole < cost:
                distance, rest = whole, []
        count += distance
        if len(ref) <= len(hyp):
            hyps[index:index] = rest
        else:
            refs.extend(rest)
    count += sum(len(line) + cut for line, cut in refs + hyps)
    return count, total


def accuracy(reference: Sequence[str], hypothesis: Sequence[str]) -> float | None:
    """1 - errors / reference characters; None when the reference has no characters."""
    count, total = errors(reference, hypothesis)
    return 1 - count / total if total else None
