"""Log-probabilities of many short texts in few `llama_decode` calls: the engine of noisy-channel.

Scoring is what a language model does fastest: no sampling, one forward pass over known tokens.
Three things keep it near llama.cpp's raw throughput:

- Many texts go in one batch as parallel sequences (one KV cache, its cells tagged by sequence).
- Texts that start alike share their common tokens: the texts of all the requests of a decode
  form one trie, and a trie node is evaluated once, tagged with every sequence that passes
  through it (a reading's alternatives share their window's start; two suspicious words of a
  line share the line's start).
- Logits are asked for only where a scored token is predicted, and the log-softmax over the
  vocabulary (262k entries for Gemma 3) is computed once per such row.

The model's weights come from `models.load`; this module gives them a context of its own, sized for
parallel sequences (the shared `Llama` object's context holds a single sequence).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ocrbench.errors import SetupError
from ocrbench.executors import threads as worker_threads


@dataclass(frozen=True)
class Request:
    """Texts (as token ids) that share a beginning; each is scored from token `first` on.

    Every text's log-probability is the sum of log P(token | everything before it) over its
    tokens at positions >= `first`; tokens before `first` are context, evaluated but not scored.
    """

    texts: tuple[tuple[int, ...], ...]
    first: int

    def __post_init__(self) -> None:
        if self.first < 1:
            raise ValueError("first must be >= 1: the first token has nothing to be predicted from")
        for text in self.texts:
            if len(text) <= self.first - 1:
                raise ValueError(f"a text of {len(text)} tokens has no tokens from {self.first}")


@dataclass
class _Node:
    token: int
    pos: int
    seqs: list[int] = field(default_factory=list)
    children: dict[int, _Node] = field(default_factory=dict)
    wanted: bool = False  # its logits predict a scored token
    row: int = -1  # its row in the decode's logits, when one is asked for


def _trie(requests: Sequence[Request]) -> tuple[list[_Node], list[list[list[_Node]]]]:
    """The texts of all the requests as one trie, so that what texts of different requests share
    (the start of a line that two suspicious words are read in) is evaluated once: its nodes in
    parent-before-child order, and per request, per text, the nodes along it."""
    root: dict[int, _Node] = {}
    order: list[_Node] = []
    paths: list[list[list[_Node]]] = []
    seq = 0
    for request in requests:
        per_text = []
        for text in request.texts:
            children = root
            path = []
            for pos, token in enumerate(text):
                node = children.get(token)
                if node is None:
                    node = children[token] = _Node(token, pos)
                    order.append(node)
                node.seqs.append(seq)
                path.append(node)
                children = node.children
            for pos in range(request.first, len(text)):
                path[pos - 1].wanted = True
            per_text.append(path)
            seq += 1
        paths.append(per_text)
    return order, paths


def _size(request: Request) -> int:
    """Tokens the request's trie holds (what its decode evaluates)."""
    root: dict[int, dict[int, Any]] = {}
    size = 0
    for text in request.texts:
        children = root
        for token in text:
            if token not in children:
                children[token] = {}
                size += 1
            children = children[token]
    return size


class Scorer:
    """Scores batches of `Request`s with a model loaded by `ocrbench.models.load`.

    `tokens` counts every token evaluated (a shared one once); `decodes` counts llama_decode calls.
    """

    def __init__(
        self,
        llama: Any,
        *,
        batch_tokens: int = 512,
        max_sequences: int = 64,
        n_threads: int | None = None,
    ):
        import llama_cpp

        self._lib = llama_cpp
        self._llama = llama  # keeps the weights alive as long as this context
        self._closing = threading.Lock()
        self.batch_tokens = batch_tokens
        self.max_sequences = min(max_sequences, int(llama_cpp.llama_max_parallel_sequences()))
        threads = n_threads or worker_threads()
        self.threads = threads  # what llama.cpp was given: a sweep worker's share by default
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = batch_tokens  # the cache holds one batch: it is cleared after each decode
        params.n_batch = batch_tokens
        params.n_ubatch = batch_tokens
        params.n_seq_max = self.max_sequences
        params.kv_unified = True  # shared tokens live in one cell seen by several sequences
        params.swa_full = True
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(llama.model, params)
        if not self._ctx:
            raise SetupError(
                f"llama.cpp could not make a scoring context ({batch_tokens} tokens, "
                f"{self.max_sequences} sequences); lower batch_tokens"
            )
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(batch_tokens, 0, self.max_sequences)
        self.n_vocab = int(
            llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(llama.model))
        )
        self.tokens = 0
        self.decodes = 0

    def tokenize(self, text: str, *, bos: bool = False) -> list[int]:
        tokens: list[int] = self._llama.tokenize(text.encode("utf-8"), add_bos=bos, special=False)
        return tokens

    @property
    def bos(self) -> int:
        return int(self._llama.token_bos())

    def fits(self, request: Request) -> bool:
        """Whether one decode can hold the request (else the caller must shorten its texts)."""
        return _size(request) <= self.batch_tokens and len(request.texts) <= self.max_sequences

    def score(self, requests: Sequence[Request]) -> list[list[float]]:
        """log P of every text of every request, in nats, in the order given."""
        if not self._ctx:  # freed (with its model: `LoadedModel.on_close`): never decode on it
            raise SetupError("this scoring context was freed with its model; make a new one")
        results: list[list[float]] = [[] for _ in requests]
        pending: list[int] = []
        size = sequences = 0
        for i, request in enumerate(requests):
            need = _size(request)
            if need > self.batch_tokens or len(request.texts) > self.max_sequences:
                raise ValueError(
                    f"a request of {need} tokens and {len(request.texts)} texts does not fit "
                    f"one decode ({self.batch_tokens} tokens, {self.max_sequences} sequences)"
                )
            if pending and (
                size + need > self.batch_tokens
                or sequences + len(request.texts) > self.max_sequences
            ):
                self._decode([requests[j] for j in pending], [results[j] for j in pending])
                pending, size, sequences = [], 0, 0
            pending.append(i)
            size += need
            sequences += len(request.texts)
        if pending:
            self._decode([requests[j] for j in pending], [results[j] for j in pending])
        return results

    def _decode(self, requests: list[Request], out: list[list[float]]) -> None:
        lib, batch = self._lib, self._batch
        nodes, paths = _trie(requests)
        rows = 0
        for n, node in enumerate(nodes):
            batch.token[n] = node.token
            batch.pos[n] = node.pos
            batch.n_seq_id[n] = len(node.seqs)
            for k, s in enumerate(node.seqs):
                batch.seq_id[n][k] = s
            batch.logits[n] = node.wanted
            if node.wanted:
                node.row = rows
                rows += 1
        batch.n_tokens = len(nodes)
        lib.llama_memory_clear(self._memory, True)
        status = lib.llama_decode(self._ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status}")
        self.tokens += len(nodes)
        self.decodes += 1
        if rows == 0:
            for request, result in zip(requests, out, strict=True):
                result.extend(0.0 for _ in request.texts)
            return
        logits = np.ctypeslib.as_array(lib.llama_get_logits(self._ctx), shape=(rows, self.n_vocab))
        # Only the entries we read: log-softmax = logit - logsumexp(row), row by row.
        wanted_rows: list[int] = []
        wanted_tokens: list[int] = []
        plan: list[list[list[int]]] = []  # per request, per text: indices into wanted
        for request, per_path in zip(requests, paths, strict=True):
            per_text = []
            for text, path in zip(request.texts, per_path, strict=True):
                picks = []
                for pos in range(request.first, len(text)):
                    picks.append(len(wanted_rows))
                    wanted_rows.append(path[pos - 1].row)
                    wanted_tokens.append(text[pos])
                per_text.append(picks)
            plan.append(per_text)
        picked = logits[wanted_rows, wanted_tokens].astype(np.float64)  # before the rows are reused
        picked -= _logsumexp_rows(logits)[wanted_rows]
        for per_text, result in zip(plan, out, strict=True):
            result.extend(float(picked[picks].sum()) for picks in per_text)

    def close(self) -> None:
        with self._closing:  # two closers (its corrector, its model's close) free it once
            if self._ctx:
                self._lib.llama_batch_free(self._batch)
                self._lib.llama_free(self._ctx)
                self._ctx = None

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _logsumexp_rows(logits: np.ndarray, chunk: int = 16) -> np.ndarray:
    """log(sum(exp(row))) per row. Works in place: the rows are garbage afterwards."""
    result = np.empty(len(logits), dtype=np.float64)
    for start in range(0, len(logits), chunk):
        block = logits[start : start + chunk]
        peak = block.max(axis=1, keepdims=True)
        np.subtract(block, peak, out=block)
        np.exp(block, out=block)
        # float32 sums are exact enough here (terms in [0, 1], one of them 1) and 3x faster.
        result[start : start + chunk] = np.log(block.sum(axis=1)) + peak[:, 0]
    return result
