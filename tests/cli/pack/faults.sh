# Full disk and I/O errors (issue 23): every create, write, fsync, rename and close that pack
# does failed in turn (tests/faultinj/lib.sh): exit 74 naming the file, nothing partial or
# temporary left, a previous output untouched. One output; train and validation (committed
# together); shards.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
D=$QT_TEST_SRCDIR/data/pack
ok=0
FAULT_OUT=out.pack faults one 'out\.pack' pack -q --seq-len 16 -o out.pack $D/a.tok $D/c.tok || ok=1
FAULT_OUT="tr.pack va.pack" faults val '(tr|va)\.pack' \
	pack -q --seq-len 16 --val-count 3 --val-out va.pack -o tr.pack $D/a.tok $D/c.tok || ok=1
FAULT_OUT="sh-00.pack sh-01.pack" faults shards 'sh-0[01]\.pack' \
	pack -q --seq-len 8 --shard-blocks 4 -o "sh-%02d.pack" $D/a.tok $D/c.tok || ok=1
exit $ok
