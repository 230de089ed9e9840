# Full disk and I/O errors (issue 23): every create, write, fsync, rename and close that
# quantize-nf4 does failed in turn (tests/faultinj/lib.sh): exit 74 naming the output, no
# partial directory or temporary left, a previous output directory untouched.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
FAULT_OUT=out faults nf4 'out' quantize-nf4 -q --threads 1 -o out "$QT_TEST_SRCDIR/data/nf4-model/src"
