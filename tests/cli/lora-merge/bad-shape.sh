# An adapter trained for another shape (here: the base's intermediate_size differs). Exit 65,
# nothing written.
cp -R "$QT_TEST_SRCDIR/data/lora/base" b
sed -i 's/"intermediate_size": 128/"intermediate_size": 96/' b/config.json
$EXEC_PREFIX lora-merge -m b -a "$QT_TEST_SRCDIR/data/lora/peft-r8" -o out 2>&1 | sed 's|"/.*/data/lora/|"|; s|: /.*/data/lora/|: |'
ls
