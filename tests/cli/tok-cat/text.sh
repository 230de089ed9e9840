# --text: masked spans between U+00AB and U+00BB, special tokens shown, a newline per record.
. "$CASE_DIR/lib.sh"
make_tok && $EXEC_PREFIX tok-cat --text -t "$T" t.tok
