# What llama.cpp's architecture for a family cannot compute as the model does (issue 19): each
# refused with 65 naming the config field, nothing written. The models of tests/data/family
# carry such features; tiny's tokenizer is copied in (they have none).
try() { # try NAME SRC [SED]: exports a copy of SRC with config.json edited by SED
	rm -rf "$1"
	cp -R "$QT_TEST_SRCDIR/$2" "$1"
	cp "$QT_TEST_SRCDIR/data/export/tiny/tokenizer.json" "$QT_TEST_SRCDIR/data/export/tiny/tokenizer_config.json" "$1"/
	if [ -n "$3" ]; then
		sed "$3" "$QT_TEST_SRCDIR/$2/config.json" > "$1/config.json"
	fi
	$EXEC_PREFIX export-gguf -q -o "$1.gguf" "$1" > /dev/null 2> err
	rc=$?
	echo "$1 -> $rc: $(head -n 1 err)"
	[ -e "$1.gguf" ] && echo "$1.gguf written"
	rm -rf "$1"
}
# qwen2, qwen3 (converters drop the window), phi3 (llama.cpp disables Phi's SWA)
try qwen2-window data/family/qwen2-window
try qwen3-window data/family/qwen3
try phi3-window data/family/phi3
# qwen3 and gemma's attention_bias includes o_proj's, which llama.cpp has no tensor for
try qwen3-bias data/family/qwen3 's/"sliding_window": 6,/"sliding_window": 256,/'
try gemma-bias data/family/gemma
# gemma2: llama.cpp scales queries by head_dim^-0.5 and always soft-caps
try gemma2-scale data/family/gemma2
try gemma2-cap data/export/family/gemma2 's/"final_logit_softcapping": 3.0/"final_logit_softcapping": null/'
try gemma2-attn-cap data/export/family/gemma2 's/"attn_logit_softcapping": 2.0/"attn_logit_softcapping": null/'
# gemma2 without a sliding layer: llama.cpp aborts on it (GGML_ASSERT is_swa_any)
try gemma2-no-window data/export/family/gemma2 's/"sliding_attention"/"full_attention"/g'
# gemma's output is always token_embd
try gemma-untied data/export/family/gemma 's/"tie_word_embeddings": true/"tie_word_embeddings": false/'
# chatglm's attn_output is [hidden, hidden]
try glm-heads data/family/glm
ls
