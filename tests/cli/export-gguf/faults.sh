# Full disk and I/O errors (issue 23): every create, write, fsync, rename and close that
# export-gguf does failed in turn (tests/faultinj/lib.sh): exit 74 naming the file, nothing
# partial or temporary left, a previous output untouched; a model (q8_0) and an adapter.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
ok=0
FAULT_OUT=m.gguf faults model 'm\.gguf' export-gguf -q --type q8_0 -o m.gguf "$QT_TEST_SRCDIR/data/export/tiny" || ok=1
t="$QT_TEST_SRCDIR/data/export"
FAULT_OUT=lora.gguf faults adapter 'lora\.gguf' export-gguf -q --adapter "$t/tiny-lora" -m "$t/tiny" -o lora.gguf || ok=1
exit $ok
