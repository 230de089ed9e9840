# --info on a Phi-3 adapter without its base: the fused modules named as PEFT names them, the
# parameter count from their shapes (q, k and v parts inferred from o_proj's input).
$EXEC_PREFIX lora-merge --info "$QT_TEST_SRCDIR/data/family/phi3-lora-init" | sed -n '5,9p;13,17p' | cut -f1-4
