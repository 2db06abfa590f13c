"""The captioning score of MLGym-Bench's imageCaptioningCOCO task, standard library only.

MLGym's baseline scores each image with NLTK's ``sentence_bleu([reference], caption)``
where both are plain strings, so NLTK's n-grams are n-grams of *characters* (spaces
included): BLEU-4 over characters, uniform weights, no smoothing. The reference is
one of the image's human captions, lower-cased, split into words by NLTK's
``word_tokenize``, stripped of words outside the training vocabulary (words seen fewer
than 5 times in the training captions) and joined with single spaces; MLGym picks the
caption at random, so this module averages over all of them (the expected value of
MLGym's number). The task's score is the mean over images.

``sentence_bleu`` follows NLTK 3.x exactly: clipped n-gram counts (a character n-gram
counts at most as often as in the reference), precision denominators of at least 1,
0 when no character matches at all, a tiny positive value (``sys.float_info.min``) in
place of a precision of 0 for longer n-grams (so such a caption scores about 1e-77),
and the brevity penalty exp(1 - r/c) when the caption is shorter than the reference.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence

ORDER = 4


def _ngrams(text: str, n: int) -> Counter:
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def sentence_bleu(references: Sequence[str], hypothesis: str) -> float:
    """Character-level BLEU-4 of ``hypothesis`` against ``references`` (NLTK's
    ``sentence_bleu`` called with strings)."""
    numerators, denominators = [], []
    for n in range(1, ORDER + 1):
        counts = _ngrams(hypothesis, n)
        most: Counter = Counter()
        for reference in references:
            for gram, count in _ngrams(reference, n).items():
                most[gram] = max(most[gram], count)
        numerators.append(sum(min(count, most[gram]) for gram, count in counts.items()))
        denominators.append(max(1, sum(counts.values())))
    if numerators[0] == 0:
        return 0.0
    c = len(hypothesis)
    r = min((len(ref) for ref in references), key=lambda length: (abs(length - c), length))
    penalty = 1.0 if c > r else (0.0 if c == 0 else math.exp(1 - r / c))
    logs = [
        math.log(num / den if num else sys.float_info.min)
        for num, den in zip(numerators, denominators, strict=True)
    ]
    return penalty * math.exp(math.fsum(log / ORDER for log in logs))


def image_score(references: Sequence[str], caption: str) -> float:
    """MLGym's per-image BLEU averaged over its random choice of one reference."""
    if not references:
        raise ValueError("an image needs at least one reference caption")
    return sum(sentence_bleu([ref], caption) for ref in references) / len(references)


def mean_score(captions: Iterable[str], references: Iterable[Sequence[str]]) -> float:
    """The task's metric: the mean of ``image_score`` over the images."""
    scores = [image_score(refs, cap) for cap, refs in zip(captions, references, strict=True)]
    return sum(scores) / len(scores) if scores else 0.0
