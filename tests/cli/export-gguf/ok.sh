# Every type, the summary of each; then import-gguf reads the f32 file back: the tokenizer files
# and the weights (bit for bit) are the source's.
t="$QT_TEST_SRCDIR/data/export/tiny"
for ty in f32 f16 bf16 q8_0 q4_0 q4_k_m q5_k_m q6_k; do
	$EXEC_PREFIX export-gguf --type $ty -o m-$ty.gguf "$t" 2>&1 | sed 's/ in [0-9.]* s$//' || exit 1
done
ls | grep -q '\.tmp' && echo "temporary left behind"
$EXEC_PREFIX import-gguf -q --dtype f32 -o back m-f32.gguf || exit 1
cmp back/tokenizer.json "$t/tokenizer.json" && echo "tokenizer.json identical"
grep -c '"' back/tokenizer_config.json > /dev/null
grep chat_template back/tokenizer_config.json | cut -c1-60
