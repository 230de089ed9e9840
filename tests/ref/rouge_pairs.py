#!/usr/bin/env python3
# Deterministic generator of (prediction, label) pairs for the rouge-zh reference check and
# benchmark. Imported by tests/ref/rouge_golden.py and tests/bench/rouge-zh-bench.py; run alone
# it writes N pairs as JSONL ({"labels": ..., "predict": ...}) to stdout:
#     python3 tests/ref/rouge_pairs.py [N [SEED]] > pairs.jsonl
# Text is made from dictionary words (jieba's dict.txt, read from the installed jieba package),
# random Han characters (many unknown to the dictionary and to the HMM tables, so finalseg's
# Viterbi and its ties run), English, digits, decimals, percentages, ASCII and full-width
# punctuation, full-width letters, CJK Ext-A, emoji, odd whitespace, and the sentence-cut cases
# of rouge_chinese (。” ？’ …… and runs of six ASCII dots). Labels are mutated into predictions
# (word drops/insertions/substitutions, truncation, shuffles), or paired with unrelated text,
# identical text, empty, whitespace-only, one-character and very long texts.
import json
import os
import random
import sys

JIEBA_DIR = os.environ.get("QT_JIEBA_DIR", "/usr/lib/python3/dist-packages/jieba")

_words = None


def dict_words():
    global _words
    if _words is None:
        ws, fs = [], []
        with open(os.path.join(JIEBA_DIR, "dict.txt"), encoding="utf-8") as f:
            for line in f:
                w, fr = line.split(" ")[:2]
                ws.append(w)
                fs.append(int(fr))
        _words = (ws, fs)
    return _words


PUNCT_ZH = list("，。！？、；：“”‘’（）《》【】—…·") + ["……", "。”", "？’", "！”"]
PUNCT_ASCII = list(",.!?;:()[]\"'-+#&_%@/*=~<>") + ["......", ".......", "...", "C++", "c#"]
SPACES = [" ", " ", "  ", "\t", "\n", "\r\n", "\u3000", "\xa0", "\u200b", "\ufeff", "\x1c",
          "\u2028", "\n \n", "\r"]
ENGLISH = ["iPhone", "Python", "hello", "World", "the", "GPU", "QLoRA", "AT&T", "T恤", "ok",
           "Mr.", "e-mail", "x_y", "a.b.c", "JSON", "jieba", "ROUGE", "BLEU-4", "100%",
           "3.14", "5999", "1,000.5", "v2.0.1", "2023年", "12月31日", "iPhone14", "Python3.8",
           "98.6%", "0.5", "+86", "#tag", "user@example.com", "https://a.b/c?d=1"]
EXOTIC = ["ＡＢＣ", "１２３", "ｈｅｌｌｏ", "㐀㐁", "\u9fd6\u9fe0", "😀", "👍🏻", "👨‍👩‍👧",
          "é", "e\u0301", "Ω", "ß", "中文\u0000字", "한국어", "日本語です", "Привет", "١٢٣",
          "\U00020000", "①②", "™", "½"]


def rand_han(rng, n):
    return "".join(chr(rng.randint(0x4E00, 0x9FD5)) for _ in range(n))


COMMON_HAN = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发"
              "年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化"
              "高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政"
              "四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命"
              "此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常"
              "文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运"
              "农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东")


def rand_common(rng, n):
    return "".join(rng.choice(COMMON_HAN) for _ in range(n))


def piece(rng):
    ws, fs = dict_words()
    r = rng.random()
    if r < 0.50:
        return ws[rng.randrange(len(ws))] if rng.random() < 0.3 else \
            rng.choices(ws[:60000], k=1)[0]
    if r < 0.62:
        return rand_common(rng, rng.randint(1, 4))
    if r < 0.68:
        return rand_han(rng, rng.randint(1, 5))
    if r < 0.78:
        return rng.choice(PUNCT_ZH)
    if r < 0.84:
        return rng.choice(ENGLISH)
    if r < 0.88:
        return str(rng.randint(0, 100000)) if rng.random() < 0.7 else \
            "%d.%d" % (rng.randint(0, 999), rng.randint(0, 99))
    if r < 0.92:
        return rng.choice(PUNCT_ASCII)
    if r < 0.96:
        return rng.choice(SPACES)
    return rng.choice(EXOTIC)


def sentence(rng, n_pieces):
    s = "".join(piece(rng) for _ in range(n_pieces))
    end = rng.random()
    if end < 0.5:
        s += "。"
    elif end < 0.6:
        s += rng.choice(["！", "？", "?", "!", "。”", "……", "......"])
    return s


def text(rng, n_sent, n_pieces):
    return "".join(sentence(rng, rng.randint(1, n_pieces)) for _ in range(n_sent))


def mutate(rng, s):
    """A prediction derived from label s."""
    toks = []
    i = 0
    while i < len(s):
        k = rng.randint(1, 4)
        toks.append(s[i:i + k])
        i += k
    out = []
    for t in toks:
        r = rng.random()
        if r < 0.12:
            continue
        if r < 0.22:
            out.append(piece(rng))
        elif r < 0.27:
            out.append(piece(rng))
            out.append(t)
        else:
            out.append(t)
    if rng.random() < 0.15 and len(out) > 3:
        a = rng.randrange(len(out))
        b = rng.randrange(len(out))
        out[a], out[b] = out[b], out[a]
    if rng.random() < 0.1:
        out = out[: max(1, len(out) // 2)]
    return "".join(out)


def make_pair(rng, i):
    kind = rng.random()
    if i < 40:
        # fixed edge cases first: empty, whitespace-only, one character, identical
        edge = [("", "今天天气很好。"), ("今天天气很好。", ""), ("", ""), (" ", "好"),
                ("好", " \n"), ("\n", "\n"), ("\u3000", "你好"), ("好", "好的，没问题。"),
                ("好", "好"), (" ", " "), ("a", "a"), ("。", "。"), ("😀", "😀"),
                ("a.......b", "a......b"), ("你好\n \n世界", "你好世界"), ("我 爱 你", "我爱你"),
                ("好的好的好的，iPhone 14售价5999元", "好的，iPhone14的售价是5999元。"),
                ("这款连衣裙采用白色面料，简约大方。", "这款连衣裙采用白色面料，简约大方。"),
                ("丄丅丏両", "丄丅丏両"), ("蓝瘦香菇", "他来到了网易杭研大厦"),
                ("C++和Python3.8", "1,000.5和100%"), ("\r\n\r\n", "a\r\nb"),
                ("\u200b", "\ufeff"), ("。”他说", "？’好"), ("……好", "…好…"),
                ("Ａ１＠", "A1@"), ("x", ""), ("", "y"), ("\t\t", "\t"),
                ("长" * 3, "长" * 3), ("的的的的的", "的"), ("?\n?", "??"),
                ("。\n。", "。 。"), ("!!!", "！！！"), ("abc+def", "abc def"),
                ("1.2.3", "1.2.3%"), ("\x1c\x1d", "\x1e\x1f"), ("\u0085", "\xa0"),
                ("一", "一"), ("鿕鿖", "鿕")]
        return edge[i % len(edge)]
    if kind < 0.04:
        return "", text(rng, 2, 6)
    if kind < 0.06:
        return rng.choice(SPACES) * rng.randint(1, 3), text(rng, 1, 6)
    if kind < 0.08:
        return text(rng, 1, 5), rng.choice(["", " ", "\n"])
    if kind < 0.12:
        c = piece(rng)[:1] or "好"
        return c, text(rng, 1, 4) if rng.random() < 0.7 else c
    if kind < 0.16:
        t = text(rng, 2, 8)
        return t, t
    if kind < 0.22:
        return text(rng, 2, 8), text(rng, 2, 8)
    if kind < 0.235:
        t = text(rng, rng.randint(40, 90), 20)
        return mutate(rng, t), t
    if kind < 0.30:
        t = rand_han(rng, rng.randint(2, 40))
        return mutate(rng, t), t
    if kind < 0.36:
        t = rand_common(rng, rng.randint(2, 60))
        return mutate(rng, t), t
    t = text(rng, rng.randint(1, 6), 12)
    return mutate(rng, t), t


def make_pairs(n, seed=20240607):
    rng = random.Random(seed)
    return [make_pair(rng, i) for i in range(n)]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2500
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20240607
    for p, l in make_pairs(n, seed):
        sys.stdout.write(json.dumps({"labels": l, "predict": p}, ensure_ascii=False) + "\n")
