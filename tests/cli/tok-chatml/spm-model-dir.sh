# A model directory with only a SentencePiece tokenizer.model (Llama-2's, rebuilt by
# tests/ref/spm_model.py): tok-chatml and tok-cat -t DIR read it; the ids are the
# sentencepiece library's EncodeAsIds (0.2.3) plus the eos, and decode back to the text.
mkdir tk && cp "$QT_TEST_SRCDIR/data/tokenizer/spm-model/llama.model" tk/tokenizer.model
echo '{"eos_token":"</s>"}' > tk/tokenizer_config.json
printf '%s\n' '{"text":"Hello world"}' '{"text":"  two  spaces 日本"}' > in.jsonl
$EXEC_PREFIX tok-chatml -q --format text -t tk -o out.tok in.jsonl || exit 1
$EXEC_PREFIX tok-cat out.tok && $EXEC_PREFIX tok-cat --text -t tk out.tok
