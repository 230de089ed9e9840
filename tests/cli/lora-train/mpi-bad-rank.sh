# One rank's bad input ends the job cleanly, no hang: rank 1 reads a copy of the .pack with a
# flipped byte (mpirun's MPMD form gives the ranks different arguments). Rank 1 names the
# block, rank 0 names rank 1, both exit 65 before anything is written; so are ranks started
# with different options (64). A rank that dies
# mid-run (SIGKILL) ends the whole job with a non-zero status within seconds.
. "$CASE_DIR/mpi.env"
cp "$P" c.pack
printf '\377' | dd of=c.pack bs=1 seek=200 conv=notrunc 2>/dev/null
mpirun -np 1 $EXEC_PREFIX lora-train -m "$M" --train "$P" -o out --quiet : \
	-np 1 $EXEC_PREFIX lora-train -m "$M" --train c.pack -o out --quiet 2>err
echo "exit $?"
grep '^lora-train: rank' err | sort
ls
# ranks given different options: refused (64) before training
mpirun -np 1 $EXEC_PREFIX lora-train -m "$M" --train "$P" -o out --quiet : \
	-np 1 $EXEC_PREFIX lora-train -m "$M" --train "$P" -o out --quiet --lr 1e-3 2>err
echo "exit $?"
grep '^lora-train: rank' err | sort
mpirun -np 2 sh -c 'echo $$ >pid.$OMPI_COMM_WORLD_RANK; exec "$@"' sh $EXEC_PREFIX lora-train \
	-m "$M" --train "$P" -o run --max-steps 1000000 --quiet 2>err &
job=$!
i=0
while [ "$(cat run/log.jsonl 2>/dev/null | wc -l)" -lt 5 ] && [ $i -lt 1200 ] && kill -0 $job 2>/dev/null; do
	sleep 0.05
	i=$((i + 1))
done
kill -KILL "$(cat pid.1)"
wait $job
rc=$?
test $rc -ne 0 && echo "killed rank: job ended, exit non-zero"
ls run
