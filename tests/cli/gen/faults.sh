# Full disk and I/O errors (issue 23): every create, write, fsync, rename and close that gen
# does failed in turn (tests/faultinj/lib.sh): exit 74 naming the file (-o) or stdout, nothing
# partial or temporary left, a previous output untouched.
. "$QT_TEST_SRCDIR/faultinj/lib.sh"
printf '%s\n' '{"content":"hello","summary":"hi"}' '{"content":"What is the capital of France?","summary":"Paris"}' > p.jsonl
M=$QT_TEST_SRCDIR/data/gen/tiny
ok=0
FAULT_OUT=out.jsonl faults file 'out\.jsonl' gen -q -m "$M" --prompt-key content --label-key summary \
	--max-new-tokens 4 -o out.jsonl p.jsonl || ok=1
faults stdout 'stdout' gen -q -m "$M" --prompt-key content --max-new-tokens 4 p.jsonl || ok=1
echo '{"messages":[{"role":"user","content":"hi"}]}' > s.jsonl
faults stream 'stdout' gen -q -m "$M" --max-new-tokens 4 --stream s.jsonl || ok=1
exit $ok
