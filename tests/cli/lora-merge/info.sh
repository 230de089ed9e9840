$EXEC_PREFIX lora-merge --info "$QT_TEST_SRCDIR/data/lora/peft-rs" | sed 's|^adapter: .*/data/|adapter: |'
