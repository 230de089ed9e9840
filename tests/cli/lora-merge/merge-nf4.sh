# From an NF4 base: dequantized exactly, merged, written as a dense HF directory, and said so.
$EXEC_PREFIX lora-merge -m "$QT_TEST_SRCDIR/data/lora/base-nf4" -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out 2>&1 | sed 's|^lora-merge: /.*/data/lora/|lora-merge: |; s|in [0-9.]* s, [0-9.]* GB/s|in T s, R GB/s|'
grep -q quantization_config out/config.json || echo "no quantization_config"
