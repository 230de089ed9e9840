# Full disk and I/O errors (issue 23): every create, write, fsync, rename and close that
# tok-chatml does failed in turn (tests/faultinj/lib.sh): exit 74 naming the file, nothing
# partial or temporary left, a previous output untouched; the same on stdout.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
T=$QT_TEST_SRCDIR/data/tokenizer/smollm2/tokenizer.json
D=$QT_TEST_SRCDIR/data/chatml
ok=0
FAULT_OUT=out.tok faults file 'out\.tok' tok-chatml -q -t "$T" --format text -o out.tok "$D/text.jsonl" || ok=1
faults stdout 'stdout' tok-chatml -q -t "$T" --format text "$D/text.jsonl" || ok=1
exit $ok
