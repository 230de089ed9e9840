# general.architecture picks the family (issue 19): an architecture import-gguf does not read is
# refused naming those it does, and a file whose keys are another architecture's is refused
# naming the key it lacks (65, no output). The GGUF is export-gguf's of the tiny model with the
# value of general.architecture overwritten in place (same length).
$EXEC_PREFIX export-gguf -q -o tiny.gguf "$QT_TEST_SRCDIR/data/export/tiny" || exit 1
off=$(grep -obUa general.architecture tiny.gguf | head -n 1 | cut -d: -f1)
try() {
	cp tiny.gguf "$1.gguf"
	# key (20 bytes), value type (u32), string length (u64), then the 5 bytes of "llama"
	printf '%s' "$1" | dd of="$1.gguf" bs=1 seek=$((off + 32)) conv=notrunc 2> /dev/null
	$EXEC_PREFIX import-gguf -q -o "out-$1" "$1.gguf" > /dev/null 2> err
	echo "$1 -> $?: $(head -n 1 err)"
	[ -e "out-$1" ] && echo "out-$1 written"
	rm -f "$1.gguf"
}
try gpt2x
try gemma
try qwen3
ls
