# Two files with different line counts: exit 65, nothing written.
printf "a\nb\n" > h.txt
printf "a\n" > r.txt
$EXEC_PREFIX rouge-zh --hyp h.txt --ref r.txt -o out.json
rc=$?
ls
exit $rc
