# The continued-pre-training recipe of tok-chatml(1) and pack(1), end to end: --format text
# appends the eos to each document, and pack --mode concat, which ends every document with the
# eos, adds none where the document already ends with it: exactly one eos per document (there
# were two, both trained). Then one lora-train step on the blocks.
set -e
S=$QT_TEST_SRCDIR/data/tokenizer/smollm2
printf '%s\n' '{"text":"The cat sat."}' '{"text":"A dog ran far away."}' '"Birds fly."' > corpus.jsonl
$EXEC_PREFIX tok-chatml -q --format text -t "$S/tokenizer.json" --chat-config "$S/tokenizer_config.json" -o corpus.tok corpus.jsonl
$EXEC_PREFIX pack -q --mode concat --seq-len 8 --no-shuffle -o corpus.pack corpus.tok
# the documents' ids in order (each ends with eos 2) against the blocks' ids without padding
tok-cat corpus.tok | sed 's/.*"ids":\[\([^]]*\)\].*/\1/' | tr ',' '\n' > docs.ids
pack --cat corpus.pack | sed 's/.*"ids":\[\([^]]*\)\].*"seg":\[\([^]]*\)\].*/\1;\2/' | while IFS=';' read -r ids seg; do
	echo "$ids" | tr ',' '\n' > i; echo "$seg" | tr ',' '\n' > s
	paste -d' ' i s | awk '$2 != 0 { print $1 }'
done > blocks.ids
echo "documents: $(wc -l < corpus.jsonl), eos in the documents: $(grep -cx 2 docs.ids), in the blocks: $(grep -cx 2 blocks.ids)"
cmp docs.ids blocks.ids && echo "blocks = documents"
mkdir m
cp "$QT_TEST_SRCDIR/data/sft-tiny/model.safetensors" "$QT_TEST_SRCDIR/data/sft-tiny/config.json" "$S/tokenizer.json" m/
$EXEC_PREFIX lora-train -m m --train corpus.pack -o run --max-steps 1 --quiet --device cpu
[ -f run/adapter/adapter_model.safetensors ] && echo trained
