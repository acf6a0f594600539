from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import unicodedata
import zlib
from pathlib import Path
from typing import Any

import jiwer
import pytest
from PIL import Image

from ocrbench import datasets
from ocrbench.errors import ConfigError, DatasetError
from ocrbench.types import Sample

from conftest import shared_data


def png(path: Path, shade: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), shade).save(path)
    return path


def dataset(root: Path, *lines: Any) -> Path:
    """A manifest from dicts (dumped) and strings (written as they are), with a.png and b.png."""
    root.mkdir(parents=True, exist_ok=True)
    png(root / "a.png")
    png(root / "b.png", shade=255)
    text = "".join((json.dumps(line) if isinstance(line, dict) else line) + "\n" for line in lines)
    (root / "manifest.jsonl").write_text(text, encoding="utf-8")
    return root


def load_error(root: Path, **options: Any) -> str:
    with pytest.raises(DatasetError) as error:
        datasets.load(root, **options)
    message = str(error.value)
    assert "\n" not in message
    return message


GOOD = {"id": "a", "image": "a.png", "text": "hello"}


def test_a_good_dataset_loads_with_paths_resolved_and_one_trailing_newline_dropped(
    tmp_path: Path,
) -> None:
    root = dataset(
        tmp_path / "set",
        {"id": "a", "image": "a.png", "text": "two  spaces\n\n"},
        {"id": "b", "ocr": "0CR text\n", "text": "OCR text", "meta": {"page": 2}},
        {"id": "c", "image": "b.png", "ocr": "given", "text": ""},
    )
    loaded = datasets.load(root)
    assert loaded.name == "set" and loaded.root == root.resolve()
    a, b, c = loaded.samples
    assert a.image == root.resolve() / "a.png" and a.text == "two  spaces\n" and a.ocr is None
    assert b.image is None and b.ocr == "0CR text" and b.meta == {"page": 2}
    assert c.text == "" and c.ocr == "given"
    assert loaded.skipped == ()


def test_missing_folder(tmp_path: Path) -> None:
    assert "does not exist" in load_error(tmp_path / "nowhere")


def test_a_file_is_not_a_dataset(tmp_path: Path) -> None:
    file = tmp_path / "manifest.jsonl"
    file.write_text("{}\n")
    assert "is not a folder" in load_error(file)


def test_a_folder_without_manifest(tmp_path: Path) -> None:
    message = load_error(tmp_path)
    assert "no manifest.jsonl" in message and "ocrbench datasets convert" in message


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    root = dataset(tmp_path, GOOD, '{"id": "b", "text": ')
    message = load_error(root)
    assert "manifest.jsonl:2:" in message and "bad JSON" in message


def test_a_line_that_is_not_an_object(tmp_path: Path) -> None:
    root = dataset(tmp_path, GOOD, '["b", "b.png"]')
    message = load_error(root)
    assert "manifest.jsonl:2:" in message and "expected a JSON object, got list" in message


@pytest.mark.parametrize("item", [{"image": "a.png", "text": "x"}, {"id": 7, "image": "a.png"}])
def test_missing_or_non_string_id(tmp_path: Path, item: dict[str, Any]) -> None:
    message = load_error(dataset(tmp_path, GOOD, item))
    assert "manifest.jsonl:2:" in message and '"id" is missing, blank or not a string' in message


def test_missing_text_names_the_sample(tmp_path: Path) -> None:
    message = load_error(dataset(tmp_path, {"id": "x", "image": "a.png"}))
    assert "manifest.jsonl:1 (sample 'x')" in message and '"text"' in message


def test_non_string_text(tmp_path: Path) -> None:
    message = load_error(dataset(tmp_path, {"id": "x", "image": "a.png", "text": ["a"]}))
    assert "(sample 'x')" in message and '"text" must be a string, not list' in message


def test_duplicate_id_says_where_it_was_first(tmp_path: Path) -> None:
    root = dataset(tmp_path, GOOD, {"id": "b", "ocr": "x", "text": "x"}, {**GOOD, "text": "again"})
    message = load_error(root)
    assert "manifest.jsonl:3 (sample 'a')" in message and "first on line 1" in message


def test_neither_image_nor_ocr(tmp_path: Path) -> None:
    message = load_error(dataset(tmp_path, {"id": "x", "text": "t"}))
    assert "(sample 'x')" in message and 'neither "image" nor "ocr"' in message


def test_missing_image(tmp_path: Path) -> None:
    message = load_error(dataset(tmp_path, {"id": "x", "image": "gone.png", "text": "t"}))
    assert "(sample 'x')" in message and "gone.png does not exist" in message


def test_an_image_that_is_a_dangling_link_or_a_folder_is_said_as_such(tmp_path: Path) -> None:
    """A link to nowhere was "outside the dataset folder", a folder "does not exist"."""
    root = dataset(tmp_path, {"id": "x", "image": "gone.png", "text": "t"})
    (root / "gone.png").symlink_to(tmp_path / "nowhere.png")
    assert "image gone.png is a link to nothing (" in load_error(root)
    (root / "gone.png").unlink()
    (root / "gone.png").mkdir()
    assert "gone.png is a folder, not an image" in load_error(root)


def test_corrupt_image(tmp_path: Path) -> None:
    root = dataset(tmp_path, {"id": "x", "image": "broken.png", "text": "t"})
    whole = (root / "a.png").read_bytes()
    (root / "broken.png").write_bytes(whole[: len(whole) // 2])
    (root / "junk.png").write_bytes(b"not an image at all")
    message = load_error(root)
    assert "(sample 'x')" in message and "broken.png is unreadable or corrupt" in message
    root = dataset(tmp_path, {"id": "y", "image": "junk.png", "text": "t"})
    assert "junk.png is unreadable or corrupt" in load_error(root)


def test_bad_meta(tmp_path: Path) -> None:
    message = load_error(dataset(tmp_path, {**GOOD, "meta": "invoice"}))
    assert "(sample 'a')" in message and '"meta" must be an object' in message


def test_an_empty_manifest_has_no_samples(tmp_path: Path) -> None:
    root = dataset(tmp_path, "", "   ")
    assert "no samples (it is empty)" in load_error(root)


def test_skip_bad_keeps_the_good_and_records_the_bad(tmp_path: Path) -> None:
    root = dataset(
        tmp_path,
        GOOD,
        "{oops",
        {"id": "b", "image": "gone.png", "text": "t"},
        {**GOOD, "text": "duplicate"},
        {"id": "c", "ocr": "o", "text": "t"},
    )
    loaded = datasets.load(root, skip_bad=True)
    assert [s.id for s in loaded.samples] == ["a", "c"]
    assert [(s["line"], s["id"]) for s in loaded.skipped] == [(2, None), (3, "b"), (4, "a")]
    assert "bad JSON" in loaded.skipped[0]["reason"]
    assert "does not exist" in loaded.skipped[1]["reason"]


def test_skip_bad_with_nothing_left_is_still_an_error(tmp_path: Path) -> None:
    root = dataset(tmp_path, "{oops", {"id": "x", "text": "t"})
    assert "no samples (all 2 were bad)" in load_error(root, skip_bad=True)


def test_limit_takes_the_first_good_samples_and_reads_no_further(tmp_path: Path) -> None:
    root = dataset(tmp_path, GOOD, {"id": "b", "ocr": "o", "text": "t"}, "{never read")
    assert [s.id for s in datasets.load(root, limit=2).samples] == ["a", "b"]
    assert "bad JSON" in load_error(root, limit=3)
    with pytest.raises(ConfigError, match="limit must be a positive"):
        datasets.load(root, limit=0)


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    images = tmp_path / "elsewhere"
    samples = [
        Sample(id="scan/1", text="Ünïcode “quotes”\n  indented", image=png(images / "1.png")),
        Sample(id="t", text="", ocr="0cr", meta={"kind": "receipt", "n": [1, 2]}),
    ]
    manifest = datasets.write(tmp_path / "set", samples)
    line = json.loads(manifest.read_text(encoding="utf-8").splitlines()[0])
    assert line["image"] == "../elsewhere/1.png"  # relative, so the pair can move together
    assert "outside the dataset folder" in load_error(tmp_path / "set")  # unless allowed:
    assert datasets.load(tmp_path / "set", allow_outside=True).samples == tuple(
        Sample(s.id, s.text, None if s.image is None else s.image.resolve(), s.ocr, s.meta)
        for s in samples
    )


ENDINGS = ["", "a", "a\n", "a\n\n", "a\n\n\n", "\n", "a\r", "a\r\n", "a\r\n\n", "a\n\r\n"]


@pytest.mark.parametrize("end", ENDINGS)
def test_load_write_load_keeps_texts_exactly_trailing_newlines_too(
    tmp_path: Path, end: str
) -> None:
    # load drops one trailing newline (a file's end, not content); write puts back what load would
    # drop, so writing what was loaded and loading it again gives the same texts, whatever they end
    # with (a split, which loads and writes, changed none of a dataset's references).
    root = dataset(tmp_path / "set", {"id": "t", "ocr": "0cr" + end, "text": "ref" + end},
                   {"id": "i", "image": "a.png", "text": end})  # fmt: skip
    first = datasets.load(root)
    datasets.write(tmp_path / "again", first.samples)
    again = datasets.load(tmp_path / "again", allow_outside=True)
    assert [(s.text, s.ocr) for s in again.samples] == [(s.text, s.ocr) for s in first.samples]
    datasets.write(tmp_path / "third", again.samples)  # and so on, every cycle
    third = datasets.load(tmp_path / "third", allow_outside=True)
    assert [(s.text, s.ocr) for s in third.samples] == [(s.text, s.ocr) for s in first.samples]
    texts = [Sample("x", "ref" + end, ocr="0cr" + end)]  # write then load, too
    datasets.write(tmp_path / "written", texts)
    assert datasets.load(tmp_path / "written").samples == tuple(texts)


def test_pairs_drop_one_trailing_newline_of_the_file_and_keep_the_rest(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name, truth in (("one", "a line\n"), ("two", "a line\n\n"), ("none", "a line")):
        png(src / f"{name}.png")
        (src / f"{name}.gt.txt").write_text(truth, encoding="utf-8")
    converted = datasets.convert("pairs", src, tmp_path / "dest")
    assert {s.id: s.text for s in converted.samples} == {
        "none": "a line", "one": "a line", "two": "a line\n",
    }  # fmt: skip
    assert datasets.load(tmp_path / "dest").samples == converted.samples


def test_content_hash_follows_content_not_paths(tmp_path: Path) -> None:
    root = dataset(tmp_path / "one", GOOD, {"id": "b", "ocr": "o", "text": "t"})
    first = datasets.load(root).content_hash()
    assert datasets.load(root).content_hash() == first
    moved = shutil.copytree(root, tmp_path / "two")
    lines = (moved / "manifest.jsonl").read_text().replace('"a.png"', f'"{moved / "a.png"}"')
    (moved / "manifest.jsonl").write_text(lines)
    assert datasets.load(moved).content_hash() == first
    png(moved / "a.png", shade=99)
    assert datasets.load(moved).content_hash() != first


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "linked folder"])
def test_an_image_outside_the_folder_is_refused_unless_allowed(tmp_path: Path, how: str) -> None:
    outside = png(tmp_path / "elsewhere" / "secret.png", shade=7)
    root = tmp_path / "set"
    root.mkdir()
    if how == "symlink":
        (root / "link.png").symlink_to(outside)
    if how == "linked folder":
        (root / "sub").symlink_to(outside.parent, target_is_directory=True)
    image = {
        "dotdot": "../elsewhere/secret.png",
        "absolute": str(outside),
        "symlink": "link.png",
        "linked folder": "sub/secret.png",
    }[how]
    root = dataset(root, GOOD, {"id": "x", "image": image, "text": "t"})
    message = load_error(root)
    assert "manifest.jsonl:2 (sample 'x')" in message
    assert f"image {image} is outside the dataset folder (it is {outside.resolve()})" in message
    assert "--allow-outside" in message and "allow_outside: true" in message
    skipping = datasets.load(root, skip_bad=True)
    assert [s.id for s in skipping.samples] == ["a"]
    assert [(s["line"], s["id"]) for s in skipping.skipped] == [(2, "x")]
    assert datasets.load(root, allow_outside=True).samples[1].image == outside.resolve()


def test_symlinks_and_dotdot_that_stay_inside_the_folder_are_fine(tmp_path: Path) -> None:
    root = dataset(
        tmp_path / "set",
        {"id": "alias", "image": "alias.png", "text": "t"},
        {"id": "round", "image": "sub/../b.png", "text": "t"},
    )
    (root / "alias.png").symlink_to(root / "a.png")
    (tmp_path / "link-to-set").symlink_to(root, target_is_directory=True)
    loaded = datasets.load(tmp_path / "link-to-set")
    assert [s.image for s in loaded.samples] == [root / "a.png", root / "b.png"]


def test_a_symlink_loop_is_a_one_line_bad_sample(tmp_path: Path) -> None:
    root = dataset(tmp_path, GOOD, {"id": "loop", "image": "loop.png", "text": "t"})
    (root / "loop.png").symlink_to("loop.png")
    reason = "image loop.png is a symlink loop"
    assert f"manifest.jsonl:2 (sample 'loop'): {reason}" in load_error(root)
    assert reason in load_error(root, allow_outside=True)
    skipping = datasets.load(root, skip_bad=True)
    assert skipping.skipped == ({"line": 2, "id": "loop", "reason": reason},)
    # Nothing good left: the error still says why.
    only = dataset(tmp_path / "only", {"id": "loop", "image": "loop.png", "text": "t"})
    (only / "loop.png").symlink_to("loop.png")
    assert f"no samples (all 1 were bad); line 1: {reason}" in load_error(only, skip_bad=True)


def noisy_image(path_format: str) -> bytes:
    """A small photo-like image (noise compresses badly, so there is real pixel data to cut)."""
    buffer = io.BytesIO()
    Image.effect_noise((96, 64), 60).convert("RGB").save(buffer, path_format)
    return buffer.getvalue()


def png_with_pixels_cut(whole: bytes) -> bytes:
    """The PNG with its compressed pixels cut in half but every chunk whole, CRCs included: the
    file's structure is sound (PIL's verify() passes it), its image data is truncated."""
    chunks, idat, position = [], b"", 8
    while position < len(whole):
        length = int.from_bytes(whole[position : position + 4], "big")
        kind = whole[position + 4 : position + 8]
        body = whole[position + 8 : position + 8 + length]
        if kind == b"IDAT":
            idat += body
        else:
            chunks.append((kind, body))
        position += 12 + length

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header, *rest = chunks
    cut = chunk(b"IDAT", idat[: len(idat) // 2])
    return whole[:8] + chunk(*header) + cut + b"".join(chunk(*c) for c in rest)


def test_a_truncated_jpeg_or_png_is_a_bad_sample_at_load(tmp_path: Path) -> None:
    root = dataset(
        tmp_path,
        GOOD,
        {"id": "jpeg", "image": "cut.jpg", "text": "t"},
        {"id": "png", "image": "cut.png", "text": "t"},
    )
    jpeg = noisy_image("JPEG")
    (root / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (root / "cut.png").write_bytes(png_with_pixels_cut(noisy_image("PNG")))
    for name in ("cut.jpg", "cut.png"):  # what the load check used to be, and passed
        with Image.open(root / name) as picture:
            picture.verify()
    message = load_error(root)
    assert "manifest.jsonl:2 (sample 'jpeg')" in message
    assert "cut.jpg is unreadable or corrupt (image file is truncated" in message
    skipping = datasets.load(root, skip_bad=True)
    assert [s.id for s in skipping.samples] == ["a"]
    assert [s["id"] for s in skipping.skipped] == ["jpeg", "png"]
    assert "cut.png is unreadable or corrupt" in skipping.skipped[1]["reason"]


# -- converters ---------------------------------------------------------------------------------


def test_pairs_finds_images_with_ground_truth_recursively(tmp_path: Path) -> None:
    src = tmp_path / "src"
    png(src / "page.png")
    (src / "page.gt.txt").write_text("first page\n", encoding="utf-8")
    png(src / "book" / "line_01.v2.tif")
    (src / "book" / "line_01.v2.gt.txt").write_text("a line", encoding="utf-8")
    png(src / "book" / "orphan.jpg")
    (src / "notes.txt").write_text("not a pair")
    converted = datasets.convert("pairs", src, tmp_path / "dest")
    assert [s.id for s in converted.samples] == ["book/line_01.v2", "page"]
    assert [s.text for s in converted.samples] == ["a line", "first page"]
    # Each sample's folder is its group, which a train/test split keeps on one side; a file at the
    # top is a group of its own.
    assert [s.meta for s in converted.samples] == [{"group": "book"}, {"group": "page"}]
    assert converted.samples[1].image == (tmp_path / "dest" / "images" / "page.png").resolve()
    assert [(s["id"], s["reason"]) for s in converted.skipped] == [
        ("book/orphan", "no orphan.gt.txt")
    ]


def test_pairs_with_no_pairs_is_an_error(tmp_path: Path) -> None:
    png(tmp_path / "src" / "lonely.png")
    with pytest.raises(DatasetError, match=r"no image/ground-truth pairs \(1 images, none with"):
        datasets.convert("pairs", tmp_path / "src", tmp_path / "dest")


def pairs_source(src: Path) -> Path:
    png(src / "page.png")
    (src / "page.gt.txt").write_text("first page\n", encoding="utf-8")
    png(src / "book" / "line.png", shade=200)
    (src / "book" / "line.gt.txt").write_text("a line", encoding="utf-8")
    return src


def test_pairs_place_the_images_in_dest_so_it_stands_alone(tmp_path: Path) -> None:
    src, dest = pairs_source(tmp_path / "src"), tmp_path / "dest"
    converted = datasets.convert("pairs", src, dest)
    lines = [json.loads(line) for line in (dest / "manifest.jsonl").read_text().splitlines()]
    assert [(line["id"], line["image"]) for line in lines] == [
        ("book/line", "images/book/line.png"),
        ("page", "images/page.png"),
    ]
    for sample in converted.samples:  # hard links: src and dest are on one filesystem
        assert sample.image is not None and sample.image.samefile(src / f"{sample.id}.png")
    # The same ids and content hash as a manifest that points at the images where they were.
    where_they_were = [
        Sample(s.id, s.text, src / f"{s.id}.png", meta=s.meta) for s in converted.samples
    ]
    datasets.write(tmp_path / "pointing", where_they_were)
    pointing = datasets.load(tmp_path / "pointing", allow_outside=True)
    assert pointing.content_hash() == converted.content_hash()
    shutil.rmtree(src)
    assert datasets.load(dest).content_hash() == converted.content_hash()


def test_pairs_copy_where_no_hard_link_can_be_made_and_keep_what_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    src, dest = pairs_source(tmp_path / "src"), tmp_path / "dest"
    datasets.convert("pairs", src, dest)
    page = dest / "images" / "page.png"
    assert not page.samefile(src / "page.png")
    assert page.read_bytes() == (src / "page.png").read_bytes()
    before = page.stat()
    datasets.convert("pairs", src, dest)  # the same bytes are there: not written again
    assert (page.stat().st_ino, page.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    png(src / "page.png", shade=50)
    datasets.convert("pairs", src, dest)  # changed at the source: replaced
    assert page.read_bytes() == (src / "page.png").read_bytes()
    assert sorted(p.name for p in page.parent.iterdir()) == ["book", "page.png"]


def test_an_interrupted_convert_leaves_no_half_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    def half_then_interrupted(source: Path, target: Path) -> None:
        Path(target).write_bytes(Path(source).read_bytes()[:20])
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "link", cross_device)
    monkeypatch.setattr(shutil, "copy2", half_then_interrupted)
    src, dest = pairs_source(tmp_path / "src"), tmp_path / "dest"
    with pytest.raises(KeyboardInterrupt):
        datasets.convert("pairs", src, dest)
    assert [p for p in (dest / "images").rglob("*") if p.is_file()] == []
    assert not (dest / "manifest.jsonl").exists()


def test_a_convert_over_a_dataset_that_fails_part_way_leaves_no_manifest_to_score_by(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second convert into a dataset replaced some images, then the disk filled: the old
    manifest stood beside the new images, and a run scored a receipt against an invoice's text
    (CER 0.80 where it was 0). Now the old manifest goes first, and the fault is one line."""
    src, dest = pairs_source(tmp_path / "src"), tmp_path / "dest"
    datasets.convert("pairs", src, dest)
    png(src / "page.png", shade=30)  # other pages at the source
    png(src / "book" / "line.png", shade=90)
    real_place = datasets.place
    placed: list[Path] = []

    def disk_full_at_the_second(source: Path, target: Path) -> None:
        if placed:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real_place(source, target)
        placed.append(target)

    monkeypatch.setattr(datasets, "place", disk_full_at_the_second)
    with pytest.raises(DatasetError, match=r"^cannot write the dataset into .*No space left"):
        datasets.convert("pairs", src, dest)
    assert not (dest / "manifest.jsonl").exists()
    with pytest.raises(DatasetError):
        datasets.load(dest)


@pytest.mark.parametrize("inside", ["converted", "."])
def test_pairs_into_src_or_a_folder_in_it_do_not_read_back_what_they_placed(
    tmp_path: Path, inside: str
) -> None:
    src = pairs_source(tmp_path / "src")
    for _ in range(2):
        converted = datasets.convert("pairs", src, src / inside)
        assert [s.id for s in converted.samples] == ["book/line", "page"]
        assert converted.skipped == ()


def test_convert_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'pairs'"):
        datasets.convert("pair", tmp_path, tmp_path / "dest")
    with pytest.raises(ConfigError, match="icdar2017 only"):
        datasets.convert("pairs", tmp_path, tmp_path / "dest", split="lines")
    with pytest.raises(DatasetError, match="is not a folder"):
        datasets.convert("icdar2017", tmp_path / "nowhere", tmp_path / "dest")


def icdar_file(path: Path, ocr: str, gold: str) -> Path:
    assert len(ocr) == len(gold)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = ocr.replace("@", "")
    path.write_bytes(f"[OCR_toInput] {raw}\r\n[OCR_aligned] {ocr}\r\n[ GS_aligned] {gold}".encode())
    return path


def test_icdar2017_drops_unknown_gold_and_padding(tmp_path: Path) -> None:
    icdar_file(
        tmp_path / "src" / "eng_monograph" / "1.txt", "Tbe c@t sat, ##XY", "The cat@sat, ####"
    )
    converted = datasets.convert("icdar2017", tmp_path / "src", tmp_path / "dest")
    (sample,) = converted.samples
    assert sample.id == "eng_monograph/1" and sample.image is None
    assert sample.ocr == "Tbe ct sat, " and sample.text == "The catsat, "
    # The document is the sample's group: a split keeps a document's lines on one side.
    assert sample.meta == {"source": "eng_monograph/1.txt", "group": "eng_monograph/1.txt"}


def test_icdar2017_lines_cut_at_spaces_shared_by_both_sides(tmp_path: Path) -> None:
    words = [f"word{i:02d}" for i in range(60)]
    gold = " ".join(words)
    # The OCR lost the space where the first cut would fall, so the cut moves one word on.
    ocr = gold.replace("word08 ", "word08@").replace("word30", "w0rd30")
    icdar_file(tmp_path / "src" / "doc.txt", ocr, gold)
    lines = datasets.convert("icdar2017", tmp_path / "src", tmp_path / "dest", split="lines")
    texts = [s.text for s in lines.samples]
    assert texts[0] == " ".join(words[:10])
    assert lines.samples[0].ocr == texts[0].replace("word08 ", "word08")
    assert " ".join(texts) == gold  # every cut took out exactly one shared space
    assert " ".join(s.ocr or "" for s in lines.samples) == ocr.replace("@", "")
    assert all(datasets.LINE_MIN <= len(t) <= datasets.LINE_MAX for t in texts[:-1])
    assert [s.id for s in lines.samples][:2] == ["doc:0001", "doc:0002"]
    assert lines.samples[1].meta == {"source": "doc.txt", "line": 2, "group": "doc.txt"}


def test_icdar2017_rejects_a_file_of_another_shape(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "1.txt").write_text("[OCR_toInput] only one line\n")
    with pytest.raises(DatasetError, match=r"1\.txt: not an ICDAR 2017 file"):
        datasets.convert("icdar2017", tmp_path / "src", tmp_path / "dest")
    icdar_file(tmp_path / "src" / "1.txt", "abc", "abc")
    text = (tmp_path / "src" / "1.txt").read_text().replace("[ GS_aligned] abc", "[ GS_aligned] ab")
    (tmp_path / "src" / "1.txt").write_text(text)
    with pytest.raises(DatasetError, match="differ in length"):
        datasets.convert("icdar2017", tmp_path / "src", tmp_path / "dest")


# -- the command line and sweep specs -----------------------------------------------------------


def cli_run(root: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`ocrbench run --engine given` as a user types it: the samples carry their OCR text, so no
    Tesseract is needed."""
    return subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", "run", "--dataset", str(root), "--engine", "given",
         "--out", str(out), "--quiet", "--no-report", "--no-cache", *options],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_cli_run_refuses_an_image_outside_unless_allow_outside(tmp_path: Path) -> None:
    png(tmp_path / "elsewhere.png")
    item = {"id": "out", "image": "../elsewhere.png", "ocr": "hell0", "text": "hello"}
    root = dataset(tmp_path / "set", item)
    refused = cli_run(root, tmp_path / "refused")
    assert refused.returncode == 2
    (line,) = refused.stderr.splitlines()
    assert "manifest.jsonl:1 (sample 'out'): image ../elsewhere.png is outside" in line
    assert "--allow-outside" in line
    allowed = cli_run(root, tmp_path / "allowed", "--allow-outside")
    assert allowed.returncode == 0, allowed.stderr
    manifest = json.loads((tmp_path / "allowed" / "manifest.json").read_text())
    assert manifest["dataset"]["samples"] == 1


def test_cli_run_a_symlink_loop_is_one_line_with_or_without_skip_bad(tmp_path: Path) -> None:
    root = dataset(
        tmp_path / "set",
        {"id": "a", "image": "a.png", "ocr": "hell0", "text": "hello"},
        {"id": "loop", "image": "loop.png", "ocr": "x", "text": "x"},
    )
    (root / "loop.png").symlink_to("loop.png")
    reason = "image loop.png is a symlink loop"
    stopped = cli_run(root, tmp_path / "stopped")
    assert stopped.returncode == 2
    assert stopped.stderr.splitlines() == [
        f"ocrbench: error: {root / 'manifest.jsonl'}:2 (sample 'loop'): {reason}"
    ]
    skipping = cli_run(root, tmp_path / "skipping", "--skip-bad")
    assert skipping.returncode == 0, skipping.stderr
    assert f"skipped: line 2: {reason}" in skipping.stderr.splitlines()
    manifest = json.loads((tmp_path / "skipping" / "manifest.json").read_text())
    assert manifest["skipped"] == [{"line": 2, "id": "loop", "reason": reason}]


def test_a_sweep_spec_dataset_takes_allow_outside(tmp_path: Path) -> None:
    from ocrbench import specs

    dataset(tmp_path / "set", {"id": "a", "ocr": "o", "text": "t"})
    spec = tmp_path / "spec.yaml"
    spec.write_text("datasets: [{path: set, allow_outside: true}, set]\nengines: {given: {}}\n")
    assert [ref.allow_outside for ref in specs.load(spec).datasets] == [True, False]
    spec.write_text("datasets: [{path: set, allow_outside: 1}]\nengines: {given: {}}\n")
    with pytest.raises(ConfigError, match=r"datasets\[0\]\.allow_outside must be true or false"):
        specs.load(spec)


# -- real data ----------------------------------------------------------------------------------


def corpus_cer(samples: tuple[Sample, ...]) -> float:
    """Total character edits over total reference characters, after NFC (in chunks, for memory)."""
    references = [unicodedata.normalize("NFC", s.text) for s in samples]
    hypotheses = [unicodedata.normalize("NFC", s.ocr or "") for s in samples]
    edits = 0
    for start in range(0, len(references), 2000):
        out = jiwer.process_characters(
            references[start : start + 2000], hypotheses[start : start + 2000]
        )
        edits += out.substitutions + out.deletions + out.insertions
    return edits / sum(map(len, references))


@pytest.mark.shared
@pytest.mark.slow
def test_icdar2017_corpus_cer_matches_the_published_figure(tmp_path: Path) -> None:
    src = shared_data("icdar2017-eng")
    documents = datasets.convert("icdar2017", src, tmp_path / "documents")
    assert len(documents.samples) == 89
    assert sum(len(s.text) for s in documents.samples) == pytest.approx(1.1e6, rel=0.05)
    assert corpus_cer(documents.samples) == pytest.approx(0.0325, abs=0.002)
    lines = datasets.convert("icdar2017", src, tmp_path / "lines", split="lines")
    assert len(lines.samples) > 10_000
    assert corpus_cer(lines.samples) == pytest.approx(corpus_cer(documents.samples), abs=0.001)


@pytest.mark.shared
def test_pairs_on_the_real_tesseract_test_pages(tmp_path: Path) -> None:
    src = shared_data("tesseract-test")
    converted = datasets.convert("pairs", src, tmp_path / "tesseract-test")
    assert sorted(s.id for s in converted.samples) == [
        "8071_093.3B", "8087_054.3B", "eurotext", "phototest",
    ]  # fmt: skip
    phototest = next(s for s in converted.samples if s.id == "phototest")
    assert phototest.text == (src / "phototest.gt.txt").read_text(encoding="utf-8").removesuffix(
        "\n"
    )
    assert phototest.image is not None and phototest.image.parent == converted.root / "images"
    assert phototest.image.read_bytes() == (src / "phototest.tif").read_bytes()
    assert converted.skipped == ()


def test_picked_samples_keep_only_their_own_skipped_entries(tmp_path: Path) -> None:
    """`run --sample a --skip-bad` ran exactly what was asked: the bad line of another sample is
    not "left out" of it; asking for the bad sample itself says why it cannot be run."""
    root = tmp_path / "d"
    root.mkdir()
    lines = [{"id": "a", "ocr": "x", "text": "x"}, {"id": "b", "ocr": "y", "text": "y"},
             {"id": "bad", "ocr": "z"}]  # fmt: skip
    (root / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    loaded = datasets.load(root, skip_bad=True)
    assert [s["id"] for s in loaded.skipped] == ["bad"]
    picked = datasets.pick(loaded, ["a"])
    assert [s.id for s in picked.samples] == ["a"] and picked.skipped == ()
    with pytest.raises(DatasetError, match=r"sample 'bad' is not valid \(line 3: .*text"):
        datasets.pick(loaded, ["a", "bad"])


def test_a_byte_order_mark_is_not_part_of_a_reference_or_a_manifest(tmp_path: Path) -> None:
    """A .gt.txt saved by Windows Notepad starts with U+FEFF: it stayed in the reference, one
    phantom character and one wrong word on every such line (CER 0.083 for a perfect reading)."""
    src = tmp_path / "src"
    png(src / "book" / "l1.png")
    (src / "book" / "l1.gt.txt").write_bytes(b"\xef\xbb\xbfhello world\n")
    converted = datasets.convert("pairs", src, tmp_path / "dest")
    assert [s.text for s in converted.samples] == ["hello world"]
    root = dataset(tmp_path / "bom", {"id": "a", "image": "a.png", "text": "x"})
    (root / "manifest.jsonl").write_bytes(b"\xef\xbb\xbf" + (root / "manifest.jsonl").read_bytes())
    loaded = datasets.load(root)
    assert [(s.id, s.text) for s in loaded.samples] == [("a", "x")]


def test_a_ground_truth_with_no_image_beside_it_is_counted_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A NAME.gt.txt whose image has a suffix the converter does not read (a .gif) was dropped
    without a word: fewer samples than the user has, unsaid."""
    from ocrbench import cli

    src = tmp_path / "src"
    png(src / "book" / "l1.png")
    (src / "book" / "l1.gt.txt").write_text("one", encoding="utf-8")
    png(src / "book" / "l2.png")  # no ground truth
    (src / "book" / "l3.gt.txt").write_text("three", encoding="utf-8")  # no image it can read
    Image.new("L", (8, 8)).save(src / "book" / "l3.gif")
    converted = datasets.convert("pairs", src, tmp_path / "dest")
    assert [s.id for s in converted.samples] == ["book/l1"]
    assert [(s["id"], s["reason"]) for s in converted.skipped] == [
        ("book/l2", "no l2.gt.txt"),
        ("book/l3", "no image l3.png, .tif, .tiff, .jpg, .jpeg, .bmp or .webp beside l3.gt.txt"),
    ]
    assert (
        cli.main(["datasets", "convert", "--format", "pairs", str(src), str(tmp_path / "d2")]) == 0
    )
    err = capsys.readouterr().err
    assert "skipped 2 of 3 pairs: book/l2 (no l2.gt.txt), book/l3 (no image" in err


def test_ids_that_look_the_same_are_one_id_and_a_blank_id_is_refused(tmp_path: Path) -> None:
    """ "café" typed composed and decomposed loaded as two samples no one could tell apart in a
    table; an id of one space was accepted."""
    twins = dataset(
        tmp_path / "twins",
        {"id": "caf\u00e9", "image": "a.png", "text": "x"},
        {"id": "cafe\u0301", "image": "b.png", "text": "y"},
    )
    assert "duplicate id (first on line 1)" in load_error(twins)
    blank = dataset(tmp_path / "blank", {"id": " ", "image": "a.png", "text": "x"})
    assert '"id" is missing, blank or not a string' in load_error(blank)
