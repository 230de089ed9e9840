# --skip: matching Linear layers stay bf16 and are listed, with lm_head, in llm_int8_skip_modules
# (checked against transformers with the same list: identical config.json).
$EXEC_PREFIX quantize-nf4 -q -s down_proj,layers.1.self_attn.q_proj -o out "$QT_TEST_SRCDIR/data/nf4-model/src" || exit 1
grep -c 'quant_state.bitsandbytes__nf4' out/model.safetensors >/dev/null || exit 1
grep -A4 '"llm_int8_skip_modules"' out/config.json
