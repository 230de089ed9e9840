# --text with another tokenizer.json than the stream was made with.
. "$CASE_DIR/lib.sh"
make_tok && $EXEC_PREFIX tok-cat --text -t "$QT_TEST_SRCDIR/data/tokenizer/qwen2style/tokenizer.json" t.tok
