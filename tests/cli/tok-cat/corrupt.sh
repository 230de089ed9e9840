# One id byte changed: the trailer's checksum no longer matches.
. "$CASE_DIR/lib.sh"
make_tok && printf '\003' | dd of=t.tok bs=1 seek=68 conv=notrunc 2>/dev/null
$EXEC_PREFIX tok-cat t.tok > /dev/null
