# Full disk and I/O errors on stdout (issue 23): every write and close that tok-cat does failed
# in turn (tests/faultinj/lib.sh): exit 74 naming stdout, nothing left in the directory.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
. "$CASE_DIR/lib.sh"
make_tok || exit 1
ok=0
faults ids 'stdout' tok-cat t.tok || ok=1
faults text 'stdout' tok-cat --text -t "$T" t.tok || ok=1
faults info 'stdout' tok-cat --info t.tok || ok=1
exit $ok
