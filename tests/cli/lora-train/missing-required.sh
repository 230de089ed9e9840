$EXEC_PREFIX lora-train -m "$QT_TEST_SRCDIR/data/llama/tiny" --train x.pack
