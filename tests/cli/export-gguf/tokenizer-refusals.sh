# Tokenizers llama.cpp's vocabularies cannot hold (issue 19): each refused with 65 naming the
# file, nothing written. The model is tests/data/export/tok/llama-spm (a Llama-2-style
# SentencePiece BPE) with one tokenizer file replaced or removed.
try() { # try NAME [FILE SRC]...: exports a copy of llama-spm with FILE replaced by SRC ("-": removed)
	name=$1
	shift
	rm -rf "$name"
	cp -R "$QT_TEST_SRCDIR/data/export/tok/llama-spm" "$name"
	while [ $# -ge 2 ]; do
		if [ "$2" = - ]; then rm -f "$name/$1"; else cp "$QT_TEST_SRCDIR/$2" "$name/$1"; fi
		shift 2
	done
	$EXEC_PREFIX export-gguf -q -o "$name.gguf" "$name" > /dev/null 2> err
	rc=$?
	echo "$name -> $rc: $(head -n 1 err)"
	[ -e "$name.gguf" ] && echo "$name.gguf written"
	rm -rf "$name"
}
# SentencePiece-style BPE (byte_fallback) in tokenizer.json alone: without the model's scores
# llama.cpp's llama vocabulary merges otherwise
try spm-json-only tokenizer.model -
# a Unigram tokenizer.model; one with normalization rules (nmt_nfkc)
try unigram tokenizer.model data/tokenizer/spm-model/uni.model
try charsmap tokenizer.model data/tokenizer/spm-model/bpe-nfkc.model
# not BPE at all (WordLevel), with no tokenizer.model
try wordlevel tokenizer.model - tokenizer.json data/lora/base/tokenizer.json
# no tokenizer at all
try none tokenizer.model - tokenizer.json -
ls
