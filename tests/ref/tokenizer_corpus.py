#!/usr/bin/env python3
# qlora-tools: ISC license.
"""Writes tests/data/tokenizer/corpus.jsonl: the tokenizer golden corpus, one JSON string per line.

Run: python3 tests/ref/tokenizer_corpus.py   (any Python 3; no packages; deterministic: a fixed
seed and only the word lists below, so the output is byte-identical on every run).

Mixes English, Chinese, code, numbers, emoji (ZWJ sequences, flags, skin tones), CJK
punctuation, tabs, CRLF, long space runs, special-token strings inside text and odd Unicode
(combining marks, decomposed text that NFC changes, NBSP, U+3000, U+2028, BOM, controls).
"""
import json
import os
import random

R = random.Random(20250601)

EN_WORDS = """the of and to in is was for that on with as by at from his her it an were are
which this be or has had not but what all when we there can been one would who more if will
out so said about up into than them only other time new some could these two may first then
do any like my now over such our man me even most made after also did many before must
through back years where much your way well down should because each just those people how
too little state good very make world still own see men work long get here between both life
being under never day same another know while last might us great old year off come since
against go came right used take three language model token tokenizer training loss gradient
adapter quantization memory kernel matrix vector layer attention embedding sequence batch
learning rate schedule warmup checkpoint dataset sample evaluation benchmark throughput
Hello HELLO hello world World Paris France London Tokyo Beijing Shanghai OpenAI Hugging Face
SmolLM Llama Qwen GPT naïve café résumé coöperate façade jalapeño Zürich São Paulo Ångström
""".split()

CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M",
                "'LL", "'D", "’s", "’t", "'x", "''", "'ſ", "'\u212a"]

ZH_SENTENCES = """今天天气很好，我们一起去公园散步吧。
机器学习是人工智能的一个重要分支，它研究计算机怎样模拟或实现人类的学习行为。
这个模型在中文数据集上进行了微调，效果明显提升了。
请把下面这段话翻译成英文：“我爱北京天安门。”
《红楼梦》是中国古典四大名著之一，作者是曹雪芹。
他说：“你好！”然后转身离开了……
量化（Quantization）可以显著减少显存占用；但是精度会略有下降。
第1章　总则——第一条：为了规范数据处理活动，保障数据安全，制定本法。
【重要通知】明天上午９点开会，请大家准时参加！
北京、上海、广州、深圳是中国的一线城市。
她问：“这件衣服多少钱？”店员回答：“一百二十八元。”
深度学习模型的训练需要大量的计算资源和高质量的数据。
「引用」和『二重引用』在繁體中文裡很常見。
这是一个测试句子，包含数字123和英文word以及符号@#￥%。
春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。
床前明月光，疑是地上霜。举头望明月，低头思故乡。
自然语言处理技术正在改变我们与计算机交互的方式。
我们使用LoRA方法对大语言模型进行高效微调，只训练很少的参数。
对不起，我不太明白你的意思，能再说一遍吗？
价格：￥１，２８０．００元（含税），优惠价～９９９元。
天下大势，分久必合，合久必分。
广告词：“穿上这件连衣裙，你就是最美的女孩！”——简约、时尚、百搭。
类型#上衣*版型#宽松*颜色#白色*风格#休闲*图案#条纹*衣样式#衬衫
""".strip().split("\n")

ZH_CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质"

CJK_PUNCT = "，。！？、；：“”‘’（）《》【】…—·「」『』〜～￥％＃＠　"

CODE = [
    'def encode(self, text: str) -> list[int]:\n    """Encode text."""\n    ids = []\n'
    '    for word in self.pre_tokenize(text):\n        ids.extend(self.bpe(word))\n    return ids\n',
    '#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n\tfor (int i = 0; i < argc; i++)\n'
    '\t\tprintf("%d: %s\\n", i, argv[i]);\n\treturn 0;\n}\n',
    'const tokens = await fetch(`/api/v1/tokenize?text=${encodeURIComponent(s)}`)\r\n'
    '  .then((r) => r.json())\r\n  .catch((e) => console.error(e));\r\n',
    '{"messages": [{"role": "user", "content": "Hi!"}, {"role": "assistant", '
    '"content": "Hello! How can I help?"}], "id": 42, "score": 0.875, "ok": true}\n',
    'for f in *.jsonl; do\n  tok-chatml -t tokenizer.json "$f" > "${f%.jsonl}.tok" || exit 1\ndone\n',
    'SELECT id, name, COUNT(*) AS n FROM users WHERE created_at >= \'2024-01-01\' GROUP BY id;\n',
    'fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!("{:?}", v);\n}\n',
    '<div class="container">\n  <p>Hello &amp; welcome</p>\n  <img src="a.png" alt=""/>\n</div>\n',
    'x = torch.randn(4, 128, 576, dtype=torch.bfloat16, device="cuda")\n'
    'loss = F.cross_entropy(logits.view(-1, V), labels.view(-1), ignore_index=-100)\n',
    '    if (n <= 0) {\n        return -EINVAL;\n    }\n    memset(buf, 0, sizeof buf);\n',
    'CFLAGS += -O2 -Wall -Wextra\n%.o: %.c\n\t$(CC) $(CFLAGS) -c $< -o $@\n',
    '// TODO(alice): handle the case where a == b && c != d || e >= f\n'
    'a += b; c -= d; e *= f; g /= h; i %= j; k <<= 2; l >>= 3; m ^= n; o |= p; q &= r;\n',
]

EMOJI = ["😀", "😂", "🥲", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇨🇳", "1️⃣", "❤️",
         "🧑🏿‍💻", "👩‍❤️‍💋‍👨", "🐈‍⬛", "✨", "🚀", "☕", "🤗", "🙏🏻", "⚠️", "©", "™", "🎉"]

NUMBERS = ["0", "7", "42", "123", "2024", "1,234,567", "3.14159", "-0.001", "6.02e23",
           "1e-9", "0xDEADBEEF", "0b1011", "2024-06-01", "12:30:45", "+86 138 0013 8000",
           "１２３", "٣٤٥", "²³", "Ⅻ", "①②③", "½", "¾", "９９．５％", "100%", "$19.99",
           "€1.000,50", "v1.2.3", "192.168.0.1", "1st", "2nd", "3rd", "10th", "000123",
           "31415926535897932384626433832795028841971693993751"]

ODD = [
    "e\u0301", "A\u030a", "\u212b", "\u212a", "n\u0303", "o\u0308\u0304", "a\u0316\u0300",
    "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u1173\u11af", "\uf900\uf901",
    "\u09c7\u09be", "\u0b47\u0b3e", "Tie\u0302\u0301ng Vie\u0323\u0302t",
    "\u00a0", "\u3000", "\u2028", "\u2029", "\ufeff", "\u200b", "\u200d", "\u0085",
    "\u202f", "\u205f", "\u1680", "\u2003", "\x01", "\x07", "\x1b[0m", "\x7f", "\x0b",
    "\x0c", "\x1c", "\x1f", "\x00", "\ud7a3", "𠀀𠀁", "𝕳𝖊𝖑𝖑𝖔", "ｆｕｌｌｗｉｄｔｈ",
    "Ελληνικά", "Русский текст", "עברית", "العربية", "हिन्दी", "ไทย", "한국어 텍스트",
    "日本語のテキスト、カタカナ、ひらがな。", "İstanbul ı", "ß ẞ", "ﬁ ﬂ", "Å Å",
]

# Characters whose Unicode version matters: combining marks newer than HF's NFC tables
# (Unicode 9), letters and digits newer than PCRE2 10.42 or utf8proc 2.8 (Unicode 14 / 15).
UNICODE_EDGES = [
    "a\u0345\u1ac1", "\u0747\u1aca", "\u089e\u036f\u0330", "\u035e\u1df9",
    "\U00011935\U00011930", "\U00011938", "x\u1df6\u0316y", "\U000116d0\U000116d1 12",
    "\U0001e5f1\U0001cdd0", "\U00031350\U00031351abc", "x\U0002ebf0y", "\U00013460 \U000105c0",
    "\U00011f50\U00011f51", "\U00011de0\U00011de9", "'\U00011f04s", "\u0d3b\u0d3c\u0301",
]

SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<file_sep>",
            "<jupyter_code>", "<empty_output>", "<|im_start", "im_end|>", "<|im_end|",
            "<<|im_end|>>", "<|im_start|><|im_end|>", " assistant:", "  assistant:  ",
            "\tassistant:\n", "Hello", "HelloWorld", "xHello", " Hello,", "(Hello)", "Hello_"]


def en_sentence():
    n = R.randint(3, 18)
    words = []
    for i in range(n):
        w = R.choice(EN_WORDS)
        if i == 0:
            w = w[:1].upper() + w[1:]
        if R.random() < 0.06:
            w += R.choice(CONTRACTIONS)
        if R.random() < 0.05:
            w = R.choice(NUMBERS)
        words.append(w)
        if R.random() < 0.08:
            words[-1] += R.choice([",", ";", ":", " -", " —", "!?", "..."])
    sep = " " if R.random() < 0.9 else R.choice(["  ", "\t", " \u00a0", "   "])
    return sep.join(words) + R.choice([".", "!", "?", ".", ".", "...", ""])


def zh_text():
    parts = []
    for _ in range(R.randint(1, 4)):
        if R.random() < 0.6:
            parts.append(R.choice(ZH_SENTENCES))
        else:
            s = "".join(R.choice(ZH_CHARS) for _ in range(R.randint(4, 30)))
            parts.append(s + R.choice(CJK_PUNCT))
        if R.random() < 0.2:
            parts.append(R.choice(NUMBERS + EMOJI + EN_WORDS))
    return "".join(parts)


def whitespace_item():
    k = R.randint(0, 5)
    if k == 0:
        return " " * R.randint(1, 300) + R.choice(EN_WORDS) + " " * R.randint(0, 40)
    if k == 1:
        return "\t" * R.randint(1, 12) + R.choice(CODE).replace("\n", "\r\n")
    if k == 2:
        return "\r\n".join(en_sentence() for _ in range(R.randint(2, 6))) + "\r\n"
    if k == 3:
        return "\n" * R.randint(1, 20) + zh_text() + "\n \n\t\n" + " " * R.randint(2, 9)
    if k == 4:
        return "".join(R.choice([" ", "\t", "\n", "\r\n", "\u3000", "\u00a0", "\u2028",
                                 "x", "中", "1"]) for _ in range(R.randint(5, 80)))
    return en_sentence() + " " * R.randint(2, 64) + en_sentence()


def mixed_item():
    parts = []
    for _ in range(R.randint(2, 8)):
        c = R.random()
        if c < 0.25:
            parts.append(en_sentence())
        elif c < 0.45:
            parts.append(zh_text())
        elif c < 0.55:
            parts.append(R.choice(EMOJI) * R.randint(1, 3))
        elif c < 0.65:
            parts.append(R.choice(NUMBERS))
        elif c < 0.8:
            parts.append(R.choice(ODD))
        elif c < 0.9:
            parts.append(R.choice(SPECIALS))
        else:
            parts.append(R.choice(CODE))
    return R.choice(["", " ", "\n"]).join(parts)


def chat_item():
    turns = []
    for _ in range(R.randint(1, 4)):
        role = R.choice(["system", "user", "assistant"])
        content = R.choice([en_sentence, zh_text, mixed_item])()
        if R.random() < 0.2:
            content += " " + R.choice(SPECIALS) + " "
        turns.append("<|im_start|>%s\n%s<|im_end|>\n" % (role, content))
    return "".join(turns)


def items():
    out = []
    # Fixed edge cases first.
    out += ["", " ", "  ", "\n", "\r\n", "\t", "a", "中", "😀", "1", "123", "  123",
            "Hello world! 123", "  multiple   spaces", "Café déjà vu.", "a   b", "a \n b",
            "x" * 600, " " * 5000, "\n" * 300, "ab" * 400, "1" * 100, "中" * 300,
            "'s 'S 'ſ 'K \u212a 'LL", "<|im_start|>", "<|im_start|><|im_end|>",
            "<|im_start|>user\nHi<|im_end|>\n", "Hello", " Hello", "Hello!", "HelloHello",
            "a assistant: b", "assistant:", "  assistant:  x", "\u00a0\u00a0x", "x\u3000\u3000",
            "\ufeffBOM", "e\u0301e\u0301", "\u212b", "😀😀😀", "👨‍👩‍👧‍👦👨‍👩‍👧‍👦",
            "\x00", "\x01\x02\x03", "\x7f", "\x1b[31mred\x1b[0m"]
    out += ODD + SPECIALS + NUMBERS + EMOJI + CODE + UNICODE_EDGES
    for _ in range(8):  # random code points from every plane, surrogates excluded
        out.append("".join(chr(R.choice([R.randint(0x20, 0x2FFF), R.randint(0x3000, 0xD7FF),
                                         R.randint(0xE000, 0x10FFFF)])) for _ in range(300)))
    gens = [(en_sentence, 0.2), (zh_text, 0.2), (mixed_item, 0.25), (whitespace_item, 0.12),
            (chat_item, 0.13), (lambda: R.choice(CODE), 0.05), (long_item, 0.05)]
    total = sum(len(s.encode()) for s in out)
    while total < 330_000:
        x = R.random()
        for fn, p in gens:
            x -= p
            if x < 0:
                break
        s = fn()
        out.append(s)
        total += len(s.encode())
    return out


def long_item():
    parts = [R.choice([en_sentence, zh_text, mixed_item, whitespace_item])()
             for _ in range(R.randint(10, 40))]
    return R.choice(["\n", "\n\n", " ", "\r\n"]).join(parts)


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tokenizer",
                        "corpus.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for s in items():
            f.write(json.dumps(s, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
