# --empty hyp (hiyouga 2023-04-24): an empty prediction scores 0 even against an empty label,
# but an empty label under a non-empty prediction still fails.
printf "x\n\n" > h.txt
printf "y\n \n" > r.txt
$EXEC_PREFIX rouge-zh --empty hyp --hyp h.txt --ref r.txt
printf "x\ny\n" > h.txt
printf "x\n\n" > r.txt
$EXEC_PREFIX rouge-zh --empty hyp --hyp h.txt --ref r.txt
