# Full disk and I/O errors (issue 23): every create, write, fsync, rename and close that
# lora-merge does failed in turn (tests/faultinj/lib.sh): exit 74 naming the output, no partial
# directory or temporary left, a previous output directory untouched.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
FAULT_OUT=out faults merge 'out' lora-merge -q --threads 1 -m "$QT_TEST_SRCDIR/data/lora/base" \
	-a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out
