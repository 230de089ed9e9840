# Full disk and I/O errors (issue 23): every create, write, fsync, rename and close that
# import-gguf does failed in turn (tests/faultinj/lib.sh): exit 74 naming the output, no partial
# directory or temporary left, a previous output directory untouched.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
FAULT_OUT=model faults import 'model' import-gguf -q -o model "$QT_TEST_SRCDIR/data/gguf/tiny-llama.gguf"
