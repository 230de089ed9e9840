# Deeply nested JSON (issue 23, hostile sizes): every JSON file a user hands the tools, nested
# 100000 deep (arrays, then objects): config.json, tokenizer.json, tokenizer_config.json,
# adapter_config.json, the safetensors header, a JSONL record (gen, tok-chatml, rouge-zh) and
# lora-train's --config file. Each is refused with 65 naming the file and the depth, at once and
# without a crash (the JSON parser stops at 2048 levels; a recursive parser would overflow the
# stack), and nothing is written.
M="$QT_TEST_SRCDIR/data/gen/tiny" A="$QT_TEST_SRCDIR/data/lora/peft-r8"
N=100000
rep() { awk -v s="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'; }
arrays() { printf '{"deep":'; rep '[' $N; rep ']' $N; printf '}'; }
objects() { rep '{"a":' $N; printf 1; rep '}' $N; }
# show NAME: the exit status and the first line of the message, the temporary paths dropped
show() {
	rc=$?
	echo "$1: exit $rc: $(head -n 1 err | sed "s|$QT_TEST_SRCDIR/||")"
	[ ! -e out.jsonl ] && [ ! -e out.tok ] && [ ! -e out.json ] || echo "$1: output left"
}
echo '{"messages":[{"role":"user","content":"hi"}]}' > p.jsonl
for shape in arrays objects; do
	for f in config.json tokenizer.json tokenizer_config.json; do
		rm -rf m && cp -rL "$M" m && $shape > m/$f
		$EXEC_PREFIX gen -m m -o out.jsonl p.jsonl 2> err
		show "$shape $f"
	done
	rm -rf a && cp -rL "$A" a && $shape > a/adapter_config.json
	$EXEC_PREFIX gen -m "$M" --adapter a -o out.jsonl p.jsonl 2> err
	show "$shape adapter_config.json"
	# the safetensors header: its length, then the JSON
	$shape > h && awk -v n=$(wc -c < h) 'BEGIN { for (i = 0; i < 8; i++) { printf "%c", n % 256; n = int(n / 256) } }' > w &&
		cat w h > a/adapter_model.safetensors && cp "$A/adapter_config.json" a/
	$EXEC_PREFIX gen -m "$M" --adapter a -o out.jsonl p.jsonl 2> err
	show "$shape adapter_model.safetensors"
	{ $shape; echo; } > deep.jsonl
	$EXEC_PREFIX gen -m "$M" -o out.jsonl deep.jsonl 2> err
	show "$shape gen record"
	$EXEC_PREFIX tok-chatml -t "$M/tokenizer.json" --chat-config "$M/tokenizer_config.json" -o out.tok deep.jsonl 2> err
	show "$shape tok-chatml record"
	$EXEC_PREFIX rouge-zh -o out.json deep.jsonl 2> err
	show "$shape rouge-zh record"
	$shape > train.json
	$EXEC_PREFIX lora-train --config train.json -o run 2> err
	show "$shape lora-train --config"
	[ ! -e run ] || echo "lora-train: run left"
done
