# An HF Unigram tokenizer.json (Precompiled nmt_nfkc, Strip, Replace, Metaspace: the t5 shape
# of tests/ref/tokenizer_unigram.py) in a model directory: tok-chatml --format text and
# tok-cat --text. Expected: HF tokenizers' ids plus the eos, and its decode
# (tests/ref/tok_unigram_cli.py, tokenizers 0.23.3).
mkdir tk && cp "$QT_TEST_SRCDIR/data/tokenizer/unigram/tokenizer.json" tk/
echo '{"eos_token":"</s>"}' > tk/tokenizer_config.json
$EXEC_PREFIX tok-chatml -q --format text -t tk -o out.tok "$QT_TEST_SRCDIR/data/tokenizer/unigram/cli.jsonl" || exit 1
$EXEC_PREFIX tok-cat out.tok && $EXEC_PREFIX tok-cat --text -t tk out.tok
