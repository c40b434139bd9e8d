"""BERT's uncased tokenizer in pure Python (standard library only): BasicTokenizer + WordPiece.

It reproduces Hugging Face's tokenizer for all-MiniLM-L6-v2 (checked in tests/unit/test_embeddings.py), so
token ids match the ones the static embedding table (core.model.embeddings) was distilled for, with no
tokenizer library at run time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

MAX_WORD_CHARS = 100  # BERT's WordPiece gives [UNK] for longer words
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


_ASCII_PUNCT = r"!-/:-@\[-`{-~"
_TOKEN = re.compile(rf"[^\s{_ASCII_PUNCT}]+|[{_ASCII_PUNCT}]")
_REPLACEMENTS: dict[int, str] = {}  # non-ASCII code point -> what BERT's cleaning turns it into


def _replacement(ch: str) -> str:
    cp = ord(ch)
    cat = unicodedata.category(ch)
    if cp == 0xFFFD or cat.startswith("C") or cat == "Mn":  # control/format chars; accents after NFD
        return ""
    if cat == "Zs":
        return " "
    if _is_cjk(cp) or _is_punctuation(ch):
        return f" {ch} "  # BERT splits these into tokens of their own
    return ch


def basic_tokens(text: str) -> list[str]:
    """BERT uncased BasicTokenizer: clean, lower-case, strip accents, split on whitespace and punctuation.

    Lower-casing, NFD and accent stripping are character-local, so they run once on the whole text; each
    distinct non-ASCII character is classified once (cached), then one regex splits the result.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFD", text.lower())
        if not text.isascii():
            table = {}
            for ch in set(text):
                cp = ord(ch)
                if cp > 127:
                    rep = _REPLACEMENTS.get(cp)
                    if rep is None:
                        rep = _REPLACEMENTS[cp] = _replacement(ch)
                    table[cp] = rep
            text = text.translate(table)
    return _TOKEN.findall(_ASCII_CONTROL.sub("", text).lower())


class WordPiece:
    """Greedy longest-match-first WordPiece over a fixed vocabulary (callers cache per word)."""

    def __init__(self, vocab: Sequence[str], unk_token: str = "[UNK]"):
        self.index = {tok: i for i, tok in enumerate(vocab)}
        self.unk_id = self.index.get(unk_token, -1)

    def word_ids(self, word: str) -> tuple[int, ...]:
        whole = self.index.get(word)
        if whole is not None:
            return (whole,)
        if len(word) > MAX_WORD_CHARS:
            return (self.unk_id,)
        ids, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.index.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self.unk_id,)
            ids.append(found)
            start = end
        return tuple(ids)

    def ids(self, text: str) -> list[int]:
        out: list[int] = []
        for word in basic_tokens(text):
            out.extend(self.word_ids(word))
        return out
