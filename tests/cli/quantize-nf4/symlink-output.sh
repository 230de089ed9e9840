# -o is a symbolic link to a directory (issue 23's data loss): a directory that is not a previous
# output is refused (73) and left as it was; a link to an empty directory is written through and
# a second run replaces the files behind it, the link staying a link.
mkdir -p t/s; echo x > t/k; ln -s t l
$EXEC_PREFIX quantize-nf4 -q -o l "$QT_TEST_SRCDIR/data/nf4-model/src"
echo "exit $?"
find t | sort; ls
mkdir e; ln -s e le
$EXEC_PREFIX quantize-nf4 -q -o le "$QT_TEST_SRCDIR/data/nf4-model/src" || exit 1
$EXEC_PREFIX quantize-nf4 -q -o le "$QT_TEST_SRCDIR/data/nf4-model/src" || exit 1
test -L le && ls && ls e
