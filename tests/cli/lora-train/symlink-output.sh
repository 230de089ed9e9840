# -o is a symbolic link to a directory holding the user's files (issue 23's data loss): the run
# writes beside them and deletes none. OUT/adapter as a link to a directory that is not a
# previous adapter is refused (73) and left as it was.
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
mkdir -p t/s; echo x > t/k; ln -s t l
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o l --max-steps 2 --save-every 1 --quiet || exit 1
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o l --max-steps 2 --save-every 1 --quiet || exit 1
find t | sort; ls
mkdir -p r keep/s; echo y > keep/k; ln -s ../keep r/adapter
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o r --max-steps 1 --quiet
echo "exit $?"
find keep | sort
