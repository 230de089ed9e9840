# A stream cut inside its trailer: the records before are printed, then exit 65.
. "$CASE_DIR/lib.sh"
make_tok && head -c $(( $(wc -c < t.tok) - 8 )) t.tok > cut.tok
$EXEC_PREFIX tok-cat cut.tok > /dev/null
