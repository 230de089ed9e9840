# A real full disk (issue 23), beside the injector's sweeps (faults.sh): lora-train with its run
# directory on a small tmpfs, at sizes from 16 KB up to one that holds the run (40 KB apart, so
# that the disk fills inside the first checkpoint, the second and the final adapter). Each run
# exits 0 with the clean run's adapter, or 74 naming the file that did not fit ("No space left on
# device"); then nothing partial is left (no temporary; every checkpoint and adapter there is the
# clean run's, byte for byte) and, the disk grown, resuming the run (or starting it again when
# no checkpoint was written) ends with the clean run's adapter.
# The tmpfs is mounted in a private mount namespace (unshare -m as root, else a user namespace,
# unshare -rm); where neither works the case skips.
M="$QT_TEST_SRCDIR/data/llama/tiny" P="$QT_TEST_SRCDIR/data/lora_train/train.pack"
A="--max-steps 4 --save-every 2 --quiet"
if [ -z "$QT_FULL_DISK_NS" ]; then
	if [ -n "$EXEC_PREFIX" ]; then
		echo "SKIP: some 30 runs under $EXEC_PREFIX would take too long" >&2
		exit 77
	fi
	for u in "unshare -m" "unshare -rm"; do
		$u sh -c 'mkdir -p t && mount -t tmpfs -o size=16k tmpfs t && umount t' 2>/dev/null &&
			QT_FULL_DISK_NS=1 exec $u sh "$0"
	done
	echo "SKIP: cannot mount a tmpfs here (needs root or user namespaces)" >&2
	exit 77
fi
$EXEC_PREFIX lora-train -m "$M" --train "$P" -o ref $A || exit 1
# the files of directory $1 (of the run on the tmpfs) against ref's, trainer_state's duration aside
same_dir() {
	for f in "ref/$1"/*; do
		b=${f##*/}
		[ -f "disk/run/$1/$b" ] || return 1
		if [ "$b" = trainer_state.json ]; then
			[ "$(sed '/"seconds":/d' "$f")" = "$(sed '/"seconds":/d' "disk/run/$1/$b")" ] || return 1
		else
			cmp -s "$f" "disk/run/$1/$b" || return 1
		fi
	done
	[ "$(ls "ref/$1")" = "$(ls "disk/run/$1")" ]
}
mkdir disk
bad=0 seen=" " kb=16
while [ $kb -le 2048 ]; do
	mount -t tmpfs -o size=${kb}k tmpfs disk || exit 1
	$EXEC_PREFIX lora-train -m "$M" --train "$P" -o disk/run $A 2> err
	rc=$?
	if [ $rc -eq 0 ]; then
		cmp -s ref/adapter/adapter_model.safetensors disk/run/adapter/adapter_model.safetensors ||
			{ echo "${kb}k: exit 0 with another adapter"; bad=1; }
		umount disk
		break
	fi
	stage=$(sed -n 's|^lora-train: disk/run/\([^/:]*\).*No space left on device$|\1|p' err | head -n 1)
	what=""
	[ $rc -eq 74 ] || what="exit $rc"
	[ -n "$stage" ] || what="${what:+$what, }stderr names no file on the disk"
	left=$(find disk -name '*.tmp.*' -o -name '*.old.*' | head -n 3 | tr '\n' ' ')
	[ -z "$left" ] || what="${what:+$what, }left $left"
	for d in disk/run/*/; do
		[ -d "$d" ] || continue
		d=${d%/} d=${d##*/}
		same_dir "$d" || what="${what:+$what, }$d is not the clean run's"
	done
	mount -o remount,size=4m tmpfs disk || exit 1
	if ls -d disk/run/checkpoint-* > /dev/null 2>&1; then
		$EXEC_PREFIX lora-train -m "$M" --train "$P" --resume disk/run $A 2> err2
	else
		$EXEC_PREFIX lora-train -m "$M" --train "$P" -o disk/run $A 2> err2
	fi || what="${what:+$what, }the run does not resume: $(head -n 1 err2)"
	cmp -s ref/adapter/adapter_model.safetensors disk/run/adapter/adapter_model.safetensors ||
		what="${what:+$what, }resumed to another adapter"
	umount disk
	if [ -n "$what" ]; then
		echo "${kb}k: $what: $(head -n 1 err)"
		bad=1
	elif [ "${seen#* $stage }" = "$seen" ]; then
		seen="$seen$stage "
		echo "full in $stage: exit 74 naming it, nothing partial, resumed to the clean adapter"
	fi
	kb=$((kb + 40))
done
[ $kb -le 2048 ] && echo "fits: the clean adapter"
exit $bad
