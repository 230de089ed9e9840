#!/usr/bin/env python3
# A vocabulary-only GGUF, as llama.cpp ships them (models/ggml-vocab-*.gguf, written by
# convert_hf_to_gguf.py --vocab-only): every metadata key of tests/data/gguf/tiny-llama.gguf
# (tests/ref/tiny_gguf.py), no tensors. import-gguf must say it has no weights, and with
# --tokenizer-only write the same tokenizer files as the full import.
#   /work/venv-ref/bin/python tests/ref/vocab_only_gguf.py
# Writes tests/data/gguf/tiny-vocab.gguf (and the -nopre and -starcoder variants below). Committed output
# produced with gguf 0.19.0.
import gguf

r = gguf.GGUFReader("tests/data/gguf/tiny-llama.gguf")
w = gguf.GGUFWriter("tests/data/gguf/tiny-vocab.gguf", arch="llama")
for name, f in r.fields.items():
    if name.startswith("GGUF.") or name == "general.architecture":
        continue
    vt = f.types[0]
    sub = f.types[1] if vt == gguf.GGUFValueType.ARRAY else None
    w.add_key_value(name, f.contents(), vt, sub_type=sub)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

# The same without tokenizer.ggml.pre, as converters before 2024-05 wrote them: import-gguf
# must refuse it rather than guess GPT-2 splitting. Writes tests/data/gguf/tiny-vocab-nopre.gguf.
w = gguf.GGUFWriter("tests/data/gguf/tiny-vocab-nopre.gguf", arch="llama")
for name, f in r.fields.items():
    if name.startswith("GGUF.") or name in ("general.architecture", "tokenizer.ggml.pre"):
        continue
    vt = f.types[0]
    sub = f.types[1] if vt == gguf.GGUFValueType.ARRAY else None
    w.add_key_value(name, f.contents(), vt, sub_type=sub)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

# The same with tokenizer.ggml.pre "starcoder", which llama.cpp splits exactly as "smollm"
# (digits one by one, then the GPT-2 regex): import-gguf writes the same tokenizer.json; and
# with "chameleon" (not rebuilt): refused. Writes
# tests/data/gguf/tiny-vocab-starcoder.gguf, tiny-vocab-chameleon.gguf and (deepseek-llm: several
# regexes in turn, tests/cli/import-gguf/pre-deepseek.sh) tiny-vocab-deepseek-llm.gguf.
# (tiny-vocab-tekken.gguf and the other names of tests/ref/import_gguf_pre_check.py: that script.)
for pre in ("starcoder", "chameleon", "deepseek-llm"):
    w = gguf.GGUFWriter("tests/data/gguf/tiny-vocab-%s.gguf" % pre, arch="llama")
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        vt = f.types[0]
        sub = f.types[1] if vt == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(name, pre if name == "tokenizer.ggml.pre" else f.contents(), vt,
                        sub_type=sub)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

# The same with tokenizer.ggml.model "bert" (WordPiece, not rebuilt): refused by name.
# Writes tests/data/gguf/tiny-vocab-bert.gguf.
w = gguf.GGUFWriter("tests/data/gguf/tiny-vocab-bert.gguf", arch="llama")
for name, f in r.fields.items():
    if name.startswith("GGUF.") or name == "general.architecture":
        continue
    vt = f.types[0]
    sub = f.types[1] if vt == gguf.GGUFValueType.ARRAY else None
    w.add_key_value(name, "bert" if name == "tokenizer.ggml.model" else f.contents(), vt,
                    sub_type=sub)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
