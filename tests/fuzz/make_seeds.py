#!/usr/bin/env python3
# Writes the fuzz seed corpora tests/fuzz/corpus/<harness>/ from the repository's test data
# (python3 standard library only; run from the repository root, after make, since the .pack
# seeds come from bin/pack). Seeds are small (libFuzzer runs with -max_len 65536): the big
# fixtures are cut down (tokenizers to their first tokens, GGUF to its first 64 KB). The
# lora_ckpt seed comes from its harness: FUZZ_SEED_OUT=tests/fuzz/corpus/lora_ckpt/state.json
# build/tests/fuzz/test_fuzz_lora_ckpt.
import gzip, io, json, os, shutil, struct, subprocess, tarfile, zipfile

D = 'tests/data'
OUT = 'tests/fuzz/corpus'

def put(h, name, data):
    os.makedirs(f'{OUT}/{h}', exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(f'{OUT}/{h}/{name}', 'wb') as f:
        f.write(data)

def read(p):
    with open(p, 'rb') as f:
        return f.read()

# jsonl: plain, gzip, tar, zip, a BOM, CRLF, blank lines
auto = read(f'{D}/chatml/auto.jsonl')
put('jsonl', 'plain.jsonl', auto)
put('jsonl', 'crlf-bom.jsonl', b'\xef\xbb\xbf' + auto.replace(b'\n', b'\r\n')[:600])
put('jsonl', 'auto.jsonl.gz', gzip.compress(auto, mtime=0))
t = io.BytesIO()
with tarfile.open(fileobj=t, mode='w', format=tarfile.USTAR_FORMAT) as tf:
    for n, b in (('m/1.jsonl', auto[:500]), ('m/2.jsonl', b'{"a":1}\n\n{"b":2}\n')):
        i = tarfile.TarInfo(n); i.size = len(b); i.mtime = 0
        tf.addfile(i, io.BytesIO(b))
put('jsonl', 'two.tar', t.getvalue())
put('jsonl', 'preds.zip', read(f'{D}/archive/preds.zip'))

# chat_record: the first byte picks the options (see the harness)
lines = [l for n in ('auto', 'adgen', 'all') for l in read(f'{D}/chatml/{n}.jsonl').split(b'\n') if l]
for i, l in enumerate(lines[:24]):
    put('chat_record', f'{i:02d}', bytes([i % 128]) + l)
put('chat_record', 'history', bytes([6]) + b'{"content":"q","summary":"a","history":[["q0","a0"]]}')
put('chat_record', 'text', bytes([1]) + b'{"text":"plain document"}')

# tokenizer: the test tokenizers cut to their first tokens (merges kept when both sides are)
def small_tokenizer(src, n):
    d = json.loads(read(src))
    m = d['model']
    if isinstance(m.get('vocab'), dict):
        keep = dict(list(m['vocab'].items())[:n])
        m['vocab'] = keep
        if 'merges' in m:
            ms = []
            for x in m['merges']:
                a, b = x.split(' ', 1) if isinstance(x, str) else x
                if a in keep and b in keep and a + b in keep:
                    ms.append(x)
            m['merges'] = ms
    d['added_tokens'] = [t for t in d.get('added_tokens', []) if t['id'] < n]
    return json.dumps(d, ensure_ascii=False, separators=(',', ':'))
for name, src in (('smollm2', 'smollm2'), ('fallback', 'fallback'), ('legacy', 'legacy'),
                  ('qwen2style', 'qwen2style'), ('spm', 'spm')):
    put('tokenizer', name + '.json', small_tokenizer(f'{D}/tokenizer/{src}/tokenizer.json', 400))
# every SentencePiece-style piece at once: Strip/Prepend/Replace normalizers, Digits then
# Metaspace, a TemplateProcessing post-processor, the whole decoder chain
# a SentencePiece tokenizer.model (Unigram, trained by tests/ref/spm_model.py)
put('tokenizer', 'uni.model', read(f'{D}/tokenizer/spm-model/uni.model'))
# a tokenizer.model with a precompiled_charsmap: five custom rules, one a two-character key
put('tokenizer', 'rules.model', read(f'{D}/tokenizer/spm-model/rules.model'))
# an HF Unigram tokenizer.json (the t5 shape of tests/ref/tokenizer_unigram.py: Precompiled,
# Strip, Replace, Metaspace, TemplateProcessing) cut to <unk> <s> </s> and 300 pieces, its
# nmt_nfkc charsmap (240 KB) replaced by the five-rule one (tests/ref/spm_model.py); and the
# same with byte_fallback and the byte pieces <0x00>-<0xFF> kept
import base64
def small_unigram(keep, byte_fallback):
    d = json.loads(read(f'{D}/tokenizer/unigram/tokenizer.json'))
    d['normalizer']['normalizers'][0]['precompiled_charsmap'] = base64.b64encode(
        read(f'{D}/tokenizer/spm-model/rules.charsmap')).decode()
    d['model']['vocab'] = keep(d['model']['vocab'])
    d['model']['byte_fallback'] = byte_fallback
    return json.dumps(d, ensure_ascii=False, separators=(',', ':'))
put('tokenizer', 'unigram.json', small_unigram(lambda v: v[:3] + v[259:559], False))
put('tokenizer', 'unigram-bytes.json', small_unigram(lambda v: v[:300], True))
put('tokenizer', 'spm-all.json', '{"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":0,"content":"<unk>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},{"id":1,"content":"<s>","single_word":false,"lstrip":false,"rstrip":true,"normalized":false,"special":true},{"id":2,"content":"</s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false}],"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Strip","strip_left":false,"strip_right":true},{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}]},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"</s>","type_id":0}}],"pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]},"</s>":{"id":"</s>","ids":[2],"tokens":["</s>"]}}},"decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":1},{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}]},"model":{"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":true,"byte_fallback":true,"ignore_merges":false,"vocab":{"<unk>":0,"<s>":1,"</s>":2,"<0x0A>":3,"<0xE4>":4,"<0xB8>":5,"<0xAD>":6,"▁":7,"H":8,"e":9,"l":10,"o":11,"▁H":12,"He":13,"ll":14,"▁He":15,"llo":16,"▁Hello":17,"1":18,"2":19,"w":20,"r":21,"d":22},"merges":[["▁","H"],["H","e"],["l","l"],["▁H","e"],["ll","o"],["▁He","llo"]]}}\n')

# chat_template: tokenizer_config.json files
cfg = read(f'{D}/tokenizer/smollm2/tokenizer_config.json')
put('chat_template', 'smollm2.json', cfg)
c = json.loads(cfg)
c['chat_template'] = [{'name': 'default', 'template': c['chat_template']}]
put('chat_template', 'list.json', json.dumps(c))
c.pop('chat_template')
put('chat_template', 'none.json', json.dumps(c))

# tok, pack
for n in ('a', 'c', 'empty', 'other'):
    put('tok', n + '.tok', read(f'{D}/pack/{n}.tok'))
put('pack', 'train.pack', read(f'{D}/lora_train/train.pack'))
for mode, extra in (('pack', []), ('pad', []), ('concat', []), ('split', ['--long', 'split'])):
    m = 'pack' if mode == 'split' else mode
    subprocess.run(['bin/pack', '-q', '--seq-len', '16', '--mode', m, '-o', '/tmp/seed.pack',
                    f'{D}/pack/a.tok'] + extra, check=True)
    put('pack', mode + '.pack', read('/tmp/seed.pack'))
os.unlink('/tmp/seed.pack')

# safetensors, hfconfig, adapter_config
put('safetensors', 'python.safetensors', read(f'{D}/safetensors/python.safetensors'))
put('safetensors', 'adapter.safetensors', read(f'{D}/lora_train/init/adapter_model.safetensors'))
for n, p in (('smollm2', f'{D}/hfconfig/smollm2_config.json'), ('tiny', f'{D}/llama/tiny/config.json'),
             ('nf4', f'{D}/nf4-model/src/config.json')):
    put('hfconfig', n + '.json', read(p))
for n in ('peft-r8', 'peft-p2', 'peft-rs'):
    put('adapter_config', n + '.json', read(f'{D}/lora/{n}/adapter_config.json'))
put('adapter_config', 'init.json', read(f'{D}/lora_train/init/adapter_config.json'))

# st_index: an index naming the tensors of the shard the harness puts beside it
b = read(f'{D}/safetensors/python.safetensors')
hdr = json.loads(b[8:8 + struct.unpack('<Q', b[:8])[0]])
wm = {k: 'model-00001-of-00001.safetensors' for k in hdr if k != '__metadata__'}
put('st_index', 'index.json', json.dumps({'metadata': {'total_size': len(b)}, 'weight_map': wm}, indent=2))

# gguf: the dequantization fixture whole, the tiny model's first 64 KB
put('gguf', 'dequant.gguf', read(f'{D}/gguf/dequant.gguf'))
put('gguf', 'tiny-llama-head.gguf', read(f'{D}/gguf/tiny-llama.gguf')[:65536])

# rouge: "mode byte, prediction \n label"
for i, l in enumerate(read('tests/cli/rouge-zh/examples.jsonl').split(b'\n')[:5]):
    if l:
        r = json.loads(l)
        put('rouge', f'{i}', bytes([i]) + (r['predict'] + '\n' + r['labels']).encode())

# jieba_dict: small dictionaries
put('jieba_dict', 'small.txt', '北京 100 ns\n清华大学 50 nt\n大学 200 n\n来到 30 v\n我 400 r\n')
put('jieba_dict', 'no-tag.txt', '北京 3\n清华 2\n')

# jinja: every fifth of the chat template corpus by size (under 20 KB), and SmolLM2's template
ts = sorted((os.path.getsize(p), p) for p in
            (os.path.join(f'{D}/chat_templates/corpus', n) for n in os.listdir(f'{D}/chat_templates/corpus'))
            if p.endswith('.jinja') and os.path.getsize(p) < 20000)
for _, p in ts[::5]:
    put('jinja', os.path.basename(p), read(p))
put('jinja', 'smollm2.jinja', json.loads(cfg)['chat_template'])
