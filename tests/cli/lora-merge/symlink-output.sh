# -o is a symbolic link to a directory (issue 23's data loss): a directory that is not a previous
# output is refused (73) and left as it was; a link to an empty directory is written through and
# a second run replaces the files behind it, the link staying a link.
B="$QT_TEST_SRCDIR/data/lora/base" A="$QT_TEST_SRCDIR/data/lora/peft-r8"
mkdir -p t/s; echo x > t/k; ln -s t l
$EXEC_PREFIX lora-merge -q -m "$B" -a "$A" -o l
echo "exit $?"
find t | sort; ls
mkdir e; ln -s e le
$EXEC_PREFIX lora-merge -q -m "$B" -a "$A" -o le || exit 1
$EXEC_PREFIX lora-merge -q -m "$B" -a "$A" -o le || exit 1
test -L le && ls && ls e
