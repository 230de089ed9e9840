. "$CASE_DIR/lib.sh"
make_tok && $EXEC_PREFIX tok-cat --info < t.tok
