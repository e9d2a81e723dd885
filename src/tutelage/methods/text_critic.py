"""A rule-checked text constitution: a critic that finds the first broken principle and revises the text.

Principles come from a TOML file (``src/tutelage/sims/constitutions/text.toml``):
each names a rule (:data:`RULES`) and its settings. :class:`TextRuleCritic`
follows the :class:`tutelage.protocols.Critic` contract; a revision is
checked again against every principle, and ``fixed`` says whether it keeps
them all. :func:`critique_revise_finetune` is the loop on a language model:
sample (each text ending where the model writes a blank line), revise,
fine-tune on the revised samples mixed with corpus paragraphs that keep the
constitution.
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tutelage.errors import SpecError
from tutelage.protocols import Critique

DEFAULT = Path(__file__).resolve().parents[1] / "sims" / "constitutions" / "text.toml"
PAIRS = {")": "(", "]": "[", "}": "{"}
WORD = re.compile(r"[A-Za-z]+")
END = re.compile(r"[.!?][)\]}\"'`]*\s*$")
BOUNDARY = "\n\n"  # the end of a text: the blank line between paragraphs and documents of a corpus


@dataclass(frozen=True)
class Principle:
    id: str
    rule: str
    text: str
    settings: dict[str, Any]


def load_constitution(path: str | Path = DEFAULT) -> list[Principle]:
    """The principles of a text constitution file, each checked for a known rule."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the constitution: {exc}") from None
    out = []
    for i, item in enumerate(data.get("principle", [])):
        where = f"{path}: principle {i + 1}"
        if not isinstance(item, dict) or not {"id", "rule", "text"} <= item.keys():
            raise SpecError(f"{where}: needs fields 'id', 'rule' and 'text'")
        if item["rule"] not in RULES:
            raise SpecError(f"{where}: field 'rule' is {item['rule']!r}, expected one of {sorted(RULES)}")
        out.append(Principle(item["id"], item["rule"], item["text"],
                             {k: v for k, v in item.items() if k not in ("id", "rule", "text")}))
    if not out:
        raise SpecError(f"{path}: no [[principle]] tables")
    return out


# -- rules: check(text, **settings) -> reason or "", revise(text, **settings) -> text ---------------------------

def _brackets(text: str) -> tuple[str, str]:
    stack, kept = [], []
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in PAIRS:
            if not stack or stack[-1] != PAIRS[ch]:
                continue  # drop an unmatched closer
            stack.pop()
        kept.append(ch)
    closers = {v: k for k, v in PAIRS.items()}
    reason = f"{len(stack)} bracket(s) left open" if stack else ""
    revised = "".join(kept) + "".join(closers[c] for c in reversed(stack))
    if not reason and revised != text:
        reason = "a bracket closes what was not opened"
    return reason, revised


def _quotes(text: str) -> tuple[str, str]:
    odd = [q for q in '"`' if text.count(q) % 2]
    return (f"unpaired {' and '.join(odd)}" if odd else ""), text + "".join(odd)


def _shouting(text: str, max_run: int = 2, min_letters: int = 4) -> tuple[str, str]:
    words = list(WORD.finditer(text))
    loud = [w.group().isupper() and len(w.group()) >= min_letters for w in words]
    run, worst = 0, 0
    for flag in loud:
        run = run + 1 if flag else 0
        worst = max(worst, run)
    if worst <= max_run:
        return "", text
    pieces, at = [], 0
    for w, flag in zip(words, loud):
        pieces += [text[at:w.start()], w.group().lower() if flag else w.group()]
        at = w.end()
    return f"{worst} capitalized words in a row", "".join(pieces) + text[at:]


def _banned(text: str, words: list[str] = ()) -> tuple[str, str]:
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.I) if words else None
    found = sorted({m.group().lower() for m in pattern.finditer(text)}) if pattern else []
    if not found:
        return "", text
    return f"banned word(s): {', '.join(found)}", re.sub(r"  +", " ", pattern.sub("", text))


def _repetition(text: str, max_repeats: int = 2, span: int = 12) -> tuple[str, str]:
    words = re.compile(r"\b(\w+)(\s+\1\b){" + str(max_repeats) + r",}", re.I)
    stretch = re.compile(r"(.{" + str(span) + r",}?)\1+", re.S)
    reasons = []
    if words.search(text):
        reasons.append(f"a word repeated more than {max_repeats} times in a row")
        text = words.sub(lambda m: m.group(1), text)
    if stretch.search(text):
        reasons.append(f"a stretch of {span}+ characters repeated back to back")
        text = stretch.sub(lambda m: m.group(1), text)
    return "; ".join(reasons), text


def _sentence_end(text: str) -> tuple[str, str]:
    if END.search(text):
        return "", text
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    return "the text stops mid-sentence", (text[:cut + 1] if cut > 0 else text.rstrip() + ".")


RULES: dict[str, Callable[..., tuple[str, str]]] = {
    "balanced_brackets": _brackets, "balanced_quotes": _quotes, "no_shouting": _shouting,
    "banned_words": _banned, "no_repetition": _repetition, "sentence_end": _sentence_end,
}


def violations(text: str, principles: list[Principle]) -> list[str]:
    """Ids of the principles ``text`` breaks."""
    return [p.id for p in principles if RULES[p.rule](text, **p.settings)[0]]


class TextRuleCritic:
    """Checks each output against the named principles (all when none are named) and revises it rule by rule."""

    name = "text-rules"

    def __init__(self, constitution: list[Principle] | None = None):
        self.principles = constitution or load_constitution()

    def critique(self, contexts: list[Any], outputs: list[str], principles: list[str]) -> list[Critique]:
        chosen = [p for p in self.principles if not principles or p.id in principles]
        out = []
        for text in outputs:
            broken = [(p, RULES[p.rule](text, **p.settings)) for p in chosen]
            broken = [(p, reason) for p, (reason, _) in broken if reason]
            if not broken:
                out.append(Critique(ok=True, principle=chosen[0].id if chosen else ""))
                continue
            revision = text
            for _ in range(3):  # a repair can break another rule (e.g. a cut sentence); settle in a few passes
                for p in chosen:
                    revision = RULES[p.rule](revision, **p.settings)[1]
            out.append(Critique(ok=False, principle=broken[0][0].id, reason=broken[0][1], revision=revision,
                                severity=float(len(broken)), method="rules",
                                fixed=not violations(revision, chosen)))
        return out


def sample_texts(lm: Any, prompts: list[str], max_tokens: int, *, seed: int = 0,
                 temperature: float = 1.0) -> list[str]:
    """Each prompt followed by its continuation up to the end of text: the first :data:`BOUNDARY` the model
    writes (a blank line, the corpus's paragraph and document separator), else ``max_tokens`` tokens."""
    out = []
    for i, prompt in enumerate(prompts):
        text = prompt + lm.generate(prompt, max_tokens, temperature=temperature, seed=seed + i)
        cut = text.find(BOUNDARY, len(prompt))
        out.append(text if cut < 0 else text[:cut])
    return out


def keeping(corpus: str, principles: list[Principle], max_chars: int | None = None) -> list[str]:
    """The paragraphs of ``corpus`` that keep every principle (and are at most ``max_chars`` long)."""
    return [p for p in corpus.split(BOUNDARY) if p.strip() and (max_chars is None or len(p) <= max_chars)
            and not violations(p, principles)]


def finetune_on(lm: Any, texts: list[str], clean: list[str], *, mix: float, steps: int, lr: float, seed: int,
                rng: np.random.Generator) -> None:
    """Fine-tune ``lm`` on ``texts``, each closed by :data:`BOUNDARY`, mixed with paragraphs of ``clean``
    drawn at random (``mix``: their share of the characters)."""
    data = BOUNDARY.join(texts) + BOUNDARY
    blend, want = [data], len(data) * mix / max(1e-9, 1 - mix)
    for i in rng.permutation(len(clean)):
        if want <= 0:
            break
        blend.append(clean[i] + BOUNDARY)
        want -= len(blend[-1])
    lm.fit("".join(blend), steps=steps, lr=lr, seed=seed)


def resample_revisions(lm: Any, prompts: list[str], reviews: list[Critique], *, tries: int, max_tokens: int,
                       principles: list[Principle], seed: int) -> list[Critique]:
    """Each broken text revised by search: up to ``tries`` fresh continuations of its prompt, the first that keeps
    every principle becomes the revision (``method="resample"``); where none does, the rule revision stays."""
    out = []
    for i, (prompt, review) in enumerate(zip(prompts, reviews)):
        for j in range(tries if not review.ok else 0):  # drawn one at a time: stop at the first that keeps them
            [drawn] = sample_texts(lm, [prompt], max_tokens, seed=seed + i * tries + j)
            if not violations(drawn, principles):
                review = replace(review, revision=drawn, method="resample", fixed=True)
                break
        out.append(review)
    return out


def critique_revise_finetune(lm: Any, prompts: list[str], corpus: str, validation: str, *, rounds: int = 2,
                             samples: int = 200, max_tokens: int = 160, steps: int = 300, lr: float = 1e-3,
                             mix: float = 0.5, resample: int = 0, critic: TextRuleCritic | None = None,
                             preference_steps: int = 0, beta: float = 0.1, preference_lr: float = 1e-4,
                             mix_max_chars: int | None = None, seed: int = 0) -> list[dict]:
    """Sample → critique → revise → fine-tune ``lm`` in place; one row per round (and round 0 before any):
    the violation rate, per principle, among the samples that wrote their end of text themselves
    (``violation_rate_finished``; ``unfinished`` is the share stopped at ``max_tokens``), and the loss.

    Samples end where the model ends its text (:func:`sample_texts`). A
    broken sample is revised by ``resample`` fresh continuations of its prompt
    (the first that keeps every principle, :func:`resample_revisions`), else
    by the rules. The fine-tuning text is the samples (revised where a
    principle broke and the revision keeps them all), each closed by the
    boundary, mixed with paragraphs of ``corpus`` that keep the constitution
    (``mix`` of the whole; with ``mix_max_chars`` only those that short: whole
    texts of a sample's length, so the corpus does not teach the model to run
    past the sampling limit; all that keep it where none is that short). With ``preference_steps`` each round then also
    trains by DPO (:func:`tutelage.methods.lm_dpo.dpo_lm`, the fine-tuned model
    as its reference) on the pairs (revision preferred over the broken
    sample), anchored by the next-token loss on those corpus paragraphs.
    """
    critic = critic or TextRuleCritic()
    rng = np.random.default_rng(seed)
    clean = keeping(corpus, critic.principles, mix_max_chars) or keeping(corpus, critic.principles) or [corpus]
    history = []
    for round_ in range(rounds + 1):
        chosen = [prompts[i] for i in rng.integers(0, len(prompts), samples)]
        texts = sample_texts(lm, chosen, max_tokens, seed=seed * 100_003 + round_ * 1009)
        reviews = critic.critique(chosen, texts, [])
        broken = [violations(t, critic.principles) for t in texts]
        unfinished = np.array([len(t) - len(p) >= max_tokens for p, t in zip(chosen, texts)])  # no end of text written
        bad = np.array([not r.ok for r in reviews])
        history.append({"round": round_, "violation_rate": float(bad.mean()),
                        "by_principle": {p.id: float(np.mean([p.id in b for b in broken])) for p in critic.principles},
                        "unfinished": float(unfinished.mean()),
                        "violation_rate_finished": float(bad[~unfinished].mean()) if (~unfinished).any() else None,
                        "validation_loss": lm.loss(validation), "example": texts[0]})
        if round_ == rounds:
            break
        reviews = resample_revisions(lm, chosen, reviews, tries=resample, max_tokens=max_tokens,
                                     principles=critic.principles, seed=seed * 100_003 + 50_021 + round_ * 5_003)
        history[-1]["revised_by"] = {m: sum(not r.ok and r.fixed and r.method == m for r in reviews)
                                     for m in ("rules", "resample")}
        revised = [r.revision if not r.ok and r.fixed else t for t, r in zip(texts, reviews)]
        finetune_on(lm, revised, clean, mix=mix, steps=steps, lr=lr, seed=seed + round_, rng=rng)
        pairs = [(prompt, r.revision[len(prompt):], t[len(prompt):]) for prompt, t, r in zip(chosen, texts, reviews)
                 if not r.ok and r.fixed and r.revision.startswith(prompt) and min(len(r.revision), len(t)) > len(prompt)
                 ] if preference_steps else []
        if pairs:
            from tutelage.methods.lm_dpo import dpo_lm

            rows = dpo_lm(lm, pairs, steps=preference_steps, beta=beta, lr=preference_lr,
                          anchor_text=BOUNDARY.join(clean), seed=seed + round_)
            history[-1]["preference"] = {"pairs": len(pairs), "accuracy": rows[-1]["accuracy"],
                                         "margin": rows[-1]["margin"]}
    return history
