# Invalid UTF-8 in two-file mode: file:line.
printf "好\n\377\n" > h.txt
printf "好\n好\n" > r.txt
$EXEC_PREFIX rouge-zh --hyp h.txt --ref r.txt
